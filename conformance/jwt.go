package conformance

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// claims are the JWT fields the checks look at. The signature is not
// verified: the harness is not the token's audience and holds no keys; it
// only checks that the token is well formed and not stale.
type claims struct {
	alg       string
	exp       time.Time // zero when absent
	nbf       time.Time
	tid       string
	audiences []string
}

// parseJWT reads a compact JWS without verifying it. Its errors describe the
// defect without quoting any part of the token.
func parseJWT(token string) (claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return claims{}, errors.New("not a compact JWT: want 3 dot-separated parts")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return claims{}, errors.New("JWT header: " + err.Error())
	}
	if header.Alg == "" || header.Alg == "none" {
		return claims{}, errors.New(`JWT header: alg is empty or "none"`)
	}
	var payload struct {
		Exp json.Number     `json:"exp"`
		Nbf json.Number     `json:"nbf"`
		Tid string          `json:"tid"`
		Aud json.RawMessage `json:"aud"`
	}
	if err := decodeSegment(parts[1], &payload); err != nil {
		return claims{}, errors.New("JWT payload: " + err.Error())
	}
	if parts[2] == "" {
		return claims{}, errors.New("JWT has an empty signature")
	}
	c := claims{alg: header.Alg, tid: payload.Tid}
	var err error
	if c.exp, err = numericDate(payload.Exp); err != nil {
		return claims{}, errors.New("JWT exp: " + err.Error())
	}
	if c.nbf, err = numericDate(payload.Nbf); err != nil {
		return claims{}, errors.New("JWT nbf: " + err.Error())
	}
	if len(payload.Aud) > 0 {
		var one string
		if json.Unmarshal(payload.Aud, &one) == nil {
			c.audiences = []string{one}
		} else if json.Unmarshal(payload.Aud, &c.audiences) != nil {
			return claims{}, errors.New("JWT aud is neither a string nor an array of strings")
		}
	}
	return c, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return errors.New("not base64url")
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return errors.New("not a JSON object")
	}
	return nil
}

// numericDate reads a NumericDate (RFC 7519 §2): seconds since the epoch,
// possibly fractional. Absent is the zero time.
func numericDate(n json.Number) (time.Time, error) {
	if n == "" {
		return time.Time{}, nil
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, errors.New("not a number")
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
}
