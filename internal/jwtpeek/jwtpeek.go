// Package jwtpeek reads the header and claims of a compact JWT without
// verifying its signature. It is the one unverified JWT decoder of the module.
//
// Peeking is for a party that holds a token but is not its audience: a cache
// that needs exp to know when to fetch a new one, an error that shows a human
// which issuer and subject Entra compared, a test harness checking that a
// token is well formed. Nothing read here may decide access: the audience
// verifies the signature against the issuer's keys (golang-jwt does that in
// the fakes).
//
//	exp, err := jwtpeek.Expiry(token)
//
// Errors describe the defect and never quote the token or any part of it:
// a token is a bearer credential, and encoding/json's messages echo input.
package jwtpeek

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxTokenBytes bounds the tokens this package reads. Entra's tokens are a
// few kilobytes; a larger input is refused before any decoding.
const MaxTokenBytes = 64 << 10

var (
	// ErrMalformed is matched (errors.Is) by every error about a token that is
	// not a readable compact JWT.
	ErrMalformed = errors.New("malformed JWT")
	// ErrNoExp is returned by [Expiry] for a token without an exp claim.
	ErrNoExp = errors.New("the JWT has no exp claim")
)

// malformed builds an error matching [ErrMalformed] from fixed text.
func malformed(what string) error {
	return &peekError{what: what}
}

type peekError struct{ what string }

func (e *peekError) Error() string        { return "malformed JWT: " + e.what }
func (e *peekError) Is(target error) bool { return target == ErrMalformed }

// Header is the part of a JOSE header (RFC 7515 §4.1) that callers read.
type Header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// ParseHeader decodes the JOSE header of token.
func ParseHeader(token string) (Header, error) {
	header, _, err := split(token)
	if err != nil {
		return Header{}, err
	}
	var h Header
	if err := decode(header, "header", &h); err != nil {
		return Header{}, err
	}
	return h, nil
}

// Claims decodes the payload of token into v, a pointer to a struct or a
// map, as [json.Unmarshal] does (numbers in a map are float64; use a
// [json.Number] field to keep them exact). The payload must be a JSON object.
func Claims(token string, v any) error {
	_, payload, err := split(token)
	if err != nil {
		return err
	}
	return decode(payload, "payload", v)
}

// Expiry returns the exp claim of token: a NumericDate (RFC 7519 §2),
// whole or fractional seconds since the epoch, in UTC. A number in a JSON
// string is read too, as golang-jwt does. A token without exp gives
// [ErrNoExp].
func Expiry(token string) (time.Time, error) {
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if err := Claims(token, &c); err != nil {
		return time.Time{}, err
	}
	if c.Exp == "" {
		return time.Time{}, ErrNoExp
	}
	t, err := NumericDate(c.Exp)
	if err != nil {
		return time.Time{}, malformed("exp: " + err.Error())
	}
	return t, nil
}

// Audience is the aud claim (RFC 7519 §4.1.3): a single string or an array of
// strings, decoded to a slice in both cases. Declare a claims field of this
// type. null or an absent claim leaves it nil; any other JSON is an error
// matching [ErrMalformed] that does not quote it.
type Audience []string

// UnmarshalJSON implements [json.Unmarshaler].
func (a *Audience) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if json.Unmarshal(b, &many) != nil {
		return malformed("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// maxEpoch is 9999-12-31T23:59:59Z: later dates do not round-trip through
// RFC 3339, and nothing real expires then.
const maxEpoch = 253402300799

// NumericDate reads a JSON number of seconds since the epoch (RFC 7519 §2),
// whole or fractional, in [0, 9999-12-31]. Its errors never quote n.
func NumericDate(n json.Number) (time.Time, error) {
	if secs, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		if secs < 0 || secs > maxEpoch {
			return time.Time{}, errors.New("out of range")
		}
		return time.Unix(secs, 0).UTC(), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return time.Time{}, errors.New("not a number")
	}
	if math.IsNaN(f) || f < 0 || f > maxEpoch {
		return time.Time{}, errors.New("out of range")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
}

// split returns the header and payload segments of a compact JWS: three
// dot-separated base64url parts. The signature is not looked at.
func split(token string) (header, payload string, err error) {
	if len(token) > MaxTokenBytes {
		return "", "", malformed("longer than " + strconv.Itoa(MaxTokenBytes>>10) + " KiB")
	}
	header, rest, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", malformed("want 3 dot-separated parts, found 1")
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return "", "", malformed("want 3 dot-separated parts, found 2")
	}
	if n := strings.Count(sig, "."); n > 0 {
		// 5 parts is a JWE, which only its recipient can read.
		return "", "", malformed("want 3 dot-separated parts, found " + strconv.Itoa(n+3))
	}
	return header, payload, nil
}

// decode reads one base64url segment holding a JSON object into v. Trailing
// "=" padding is tolerated (RFC 7515 forbids it, some issuers add it).
func decode(seg, name string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return malformed("the " + name + " is not base64url")
	}
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	if i == len(b) || b[i] != '{' {
		return malformed("the " + name + " is not a JSON object")
	}
	if err := json.Unmarshal(b, v); err != nil {
		if errors.Is(err, ErrMalformed) { // an Audience's, fixed text
			return err
		}
		// A type error's Field is the path of the caller's struct fields,
		// never a key from the token; its Value can quote a number from the
		// token ("number 1e300"), so only its first word is kept.
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			kind, _, _ := strings.Cut(typ.Value, " ")
			if safeName(typ.Field) {
				return malformed(name + " field " + typ.Field + " is a JSON " + kind + " of the wrong type")
			}
			return malformed("a " + name + " field is a JSON " + kind + " of the wrong type")
		}
		// A syntax error's text can quote input characters: keep only that
		// it is one.
		return malformed("the " + name + " is not valid JSON")
	}
	return nil
}

// safeName accepts the claim names a caller's struct declares (exp, aud,
// xms_mirid); anything else is left out of the error.
func safeName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
