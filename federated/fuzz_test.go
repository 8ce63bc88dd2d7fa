package federated

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzRequestClaims: whatever a resource sends as a claims challenge, the
// claims parameter is valid JSON or an error, and with CAE it asks for cp1.
func FuzzRequestClaims(f *testing.F) {
	f.Add(true, "")
	f.Add(true, `{"access_token":{"nbf":{"essential":true,"value":"1"}}}`)
	f.Add(true, `{"access_token":{"xms_cc":{"values":["cp2"]}}}`)
	f.Add(false, `{"id_token":{}}`)
	f.Add(true, `{"access_token":{"xms_cc":{"values":"cp1"}}}`)
	f.Add(true, `{"access_token":[]}`)
	f.Fuzz(func(t *testing.T, cae bool, challenge string) {
		got, err := requestClaims(cae, challenge)
		if err != nil {
			return
		}
		if got == "" {
			if cae || challenge != "" {
				t.Fatalf("empty claims for cae=%t challenge=%q", cae, challenge)
			}
			return
		}
		if !json.Valid([]byte(got)) {
			t.Fatalf("claims %q are not JSON", got)
		}
		if cae && !strings.Contains(got, `"cp1"`) {
			t.Fatalf("CAE claims %q lack cp1", got)
		}
	})
}

// FuzzTokenResponse: a hostile or broken token endpoint body never panics the
// parser and never lands in an error message.
func FuzzTokenResponse(f *testing.F) {
	f.Add(`{"access_token":"tok","expires_in":3600}`, 200)
	f.Add(`{"access_token":"tok","expires_in":"3600","refresh_in":"1800"}`, 200)
	f.Add(`{"access_token":"tok","expires_in":-1}`, 200)
	f.Add(`{"error":"invalid_client","error_codes":[700213],"error_description":"AADSTS700213: x\r\ny"}`, 400)
	f.Add(`<html>`, 502)
	now := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	c := &Credential{clientID: testClient, authority: "https://login.microsoftonline.com", clock: func() time.Time { return now }}
	const secretAssertion = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzZWNyZXQifQ.c2VjcmV0LWFzc2VydGlvbg"
	f.Fuzz(func(t *testing.T, body string, status int) {
		if status == 200 {
			tok, err := parseToken([]byte(body), now)
			if err == nil && (tok.Token == "" || !tok.ExpiresOn.After(now) || tok.RefreshOn.After(tok.ExpiresOn)) {
				// The body holds the access token: describe the result instead
				// (the fuzzer keeps the input under testdata/fuzz).
				t.Fatalf("accepted a %d-byte body: empty token %t, expires %v after the request, refresh %v after expiry",
					len(body), tok.Token == "", tok.ExpiresOn.Sub(now), tok.RefreshOn.Sub(tok.ExpiresOn))
			}
			if err != nil && tok.Token == "" {
				var tr struct {
					AccessToken string `json:"access_token"`
				}
				if json.Unmarshal([]byte(body), &tr) == nil && len(tr.AccessToken) > 3 && strings.Contains(err.Error(), tr.AccessToken) {
					t.Fatal("parse error contains the access token")
				}
			}
			return
		}
		ae := newAuthError(&httpResult{status: status, header: http.Header{}, body: []byte(strings.ReplaceAll(body, "ASSERTION", secretAssertion))},
			c, cacheKey{tenant: homeTenant, scope: graphScope}, secretAssertion)
		if strings.Contains(ae.Error(), secretAssertion) {
			t.Fatal("error message contains the assertion")
		}
	})
}
