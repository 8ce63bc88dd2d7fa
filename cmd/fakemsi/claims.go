package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
)

// jwtClaims decodes the payload of a compact JWT without verifying it. The
// demo shows claims to a human; nothing is decided on them. Its errors never
// repeat the token.
func jwtClaims(jwt string) (map[string]any, error) {
	var c map[string]any
	if err := jwtpeek.Claims(jwt, &c); err != nil {
		return nil, err
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
