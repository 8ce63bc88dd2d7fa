package conformance

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
)

// claims are the JWT fields the shape checks look at, read without
// verification: for access tokens the harness is not the audience and holds
// no keys. An assertion's signature is verified separately, by the
// IssuerSignature check (issuer.go), against its issuer's published keys.
type claims struct {
	alg       string
	exp       time.Time // zero when absent
	nbf       time.Time
	tid       string
	audiences []string
}

// parseJWT reads a compact JWS without verifying it, through jwtpeek, and
// adds the checks a signed token must pass: an alg other than "none" and a
// signature. Its errors describe the defect without quoting any part of the
// token.
func parseJWT(token string) (claims, error) {
	header, err := jwtpeek.ParseHeader(token)
	if err != nil {
		return claims{}, err
	}
	if header.Alg == "" || header.Alg == "none" {
		return claims{}, errors.New(`JWT header: alg is empty or "none"`)
	}
	var payload struct {
		Exp json.Number      `json:"exp"`
		Nbf json.Number      `json:"nbf"`
		Tid string           `json:"tid"`
		Aud jwtpeek.Audience `json:"aud"`
	}
	if err := jwtpeek.Claims(token, &payload); err != nil {
		return claims{}, err
	}
	if strings.HasSuffix(token, ".") {
		return claims{}, errors.New("JWT has an empty signature")
	}
	c := claims{alg: header.Alg, tid: payload.Tid, audiences: payload.Aud}
	if c.exp, err = optionalDate(payload.Exp); err != nil {
		return claims{}, errors.New("JWT exp: " + err.Error())
	}
	if c.nbf, err = optionalDate(payload.Nbf); err != nil {
		return claims{}, errors.New("JWT nbf: " + err.Error())
	}
	return c, nil
}

// optionalDate reads a NumericDate claim; absent is the zero time.
func optionalDate(n json.Number) (time.Time, error) {
	if n == "" {
		return time.Time{}, nil
	}
	return jwtpeek.NumericDate(n)
}
