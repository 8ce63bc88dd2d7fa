package federated

import (
	"encoding/json"
	"errors"
	"fmt"
)

// cp1 is the client capability that tells Entra this client handles
// Continuous Access Evaluation claims challenges, so it may issue long-lived
// CAE tokens that resources revoke by challenge instead.
const cp1Claims = `{"access_token":{"xms_cc":{"values":["cp1"]}}}`

// requestClaims returns the claims form parameter for a request: the cp1
// capability when CAE is on, the challenge's claims when given, both merged
// when both apply, "" when neither.
func requestClaims(cae bool, challenge string) (string, error) {
	switch {
	case challenge == "" && !cae:
		return "", nil
	case challenge == "":
		return cp1Claims, nil
	case !cae:
		if !json.Valid([]byte(challenge)) {
			return "", errors.New("federated: TokenRequestOptions.Claims is not JSON (a base64-encoded challenge must be decoded first)")
		}
		return challenge, nil
	}
	var merged map[string]any
	if err := json.Unmarshal([]byte(challenge), &merged); err != nil || merged == nil {
		return "", errors.New("federated: TokenRequestOptions.Claims is not a JSON object (a base64-encoded challenge must be decoded first)")
	}
	at, _ := merged["access_token"].(map[string]any)
	if at == nil {
		at = map[string]any{}
		merged["access_token"] = at
	}
	xmsCC, _ := at["xms_cc"].(map[string]any)
	if xmsCC == nil {
		xmsCC = map[string]any{}
		at["xms_cc"] = xmsCC
	}
	values, _ := xmsCC["values"].([]any)
	hasCP1 := false
	for _, v := range values {
		if v == "cp1" {
			hasCP1 = true
		}
	}
	if !hasCP1 {
		xmsCC["values"] = append(values, "cp1")
	}
	b, err := json.Marshal(merged)
	if err != nil {
		return "", fmt.Errorf("federated: merging claims: %w", err)
	}
	return string(b), nil
}
