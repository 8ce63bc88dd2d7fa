package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// jwtClaims decodes the payload of a compact JWT without verifying it. The
// demo shows claims to a human; nothing is decided on them.
func jwtClaims(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		// Say how it is malformed without repeating any of it.
		return nil, fmt.Errorf("token is not a compact JWT (%d parts)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, errors.New("token payload is not base64url")
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errors.New("token payload is not a JSON object")
	}
	return c, nil
}

// claimString renders a claim value: strings as is, lists joined, numbers
// without exponent.
func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprintf("%.0f", x)
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = claimString(e)
		}
		return strings.Join(s, ", ")
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
