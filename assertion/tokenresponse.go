package assertion

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// tokenResponse is the success body of both managed-identity protocols.
//
// App Service 2019-08-01 answers
//
//	{"access_token":"…","expires_on":"1506484173","resource":"…","token_type":"Bearer","client_id":"…"}
//
// and IMDS 2018-02-01 answers the same fields as strings plus refresh_token,
// expires_in and not_before. App Service 2017-09-01 sent expires_on as a date
// ("11/27/2026 10:00:00 AM +00:00"), and some hosts send numbers, so the
// expiry fields are decoded by hand.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	ExpiresOn   json.RawMessage `json:"expires_on"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

// parseTokenResponse turns a success body into an Assertion. now anchors
// expires_in when expires_on is absent. Errors never quote the body, which
// holds the token.
func parseTokenResponse(body []byte, now time.Time) (Assertion, error) {
	var r tokenResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return Assertion{}, fmt.Errorf("malformed token response (%s)", jsonErrorKind(err))
	}
	if r.AccessToken == "" {
		return Assertion{}, errors.New("token response has no access_token")
	}
	a := Assertion{Token: r.AccessToken}
	for _, f := range [...]struct {
		name string
		raw  json.RawMessage
	}{{"expires_on", r.ExpiresOn}, {"expires_in", r.ExpiresIn}} {
		if _, ok := jsonScalar(f.raw); !ok && !emptyJSON(f.raw) {
			return Assertion{}, fmt.Errorf("token response has a %s that is neither a string nor a number", f.name)
		}
	}
	if v, ok := jsonScalar(r.ExpiresOn); ok {
		t, err := parseExpiresOn(v)
		if err != nil {
			return Assertion{}, err
		}
		a.ExpiresOn = t
		return a, nil
	}
	if v, ok := jsonScalar(r.ExpiresIn); ok {
		secs, err := parseSeconds(v)
		if err != nil || secs < 0 || secs > maxExpiresIn {
			return Assertion{}, fmt.Errorf("token response has an unreadable expires_in %q", leak.Clip(v, maxExpiryText))
		}
		a.ExpiresOn = now.Add(time.Duration(secs) * time.Second)
	}
	return a, nil
}

// maxExpiryText bounds how much of an expiry field an error quotes. The
// fields never hold the token, but they are still untrusted input.
const maxExpiryText = 64

// maxExpiresIn bounds expires_in (ten years) so the multiplication cannot
// overflow a Duration.
const maxExpiresIn = 10 * 365 * 24 * 3600

// jsonErrorKind describes a decoding failure without echoing the input: the
// body that failed to decode may hold a token.
func jsonErrorKind(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "invalid JSON at offset " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ):
		return "field " + typ.Field + " has JSON type " + typ.Value
	default:
		return "invalid JSON"
	}
}

// jsonScalar returns the text of a JSON string or number; ok is false for
// absent, null, empty strings and other kinds.
func jsonScalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		s = strings.TrimSpace(s)
		return s, s != ""
	}
	if raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') {
		return string(raw), true
	}
	return "", false
}

// emptyJSON reports an absent field, null, or a blank string.
func emptyJSON(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return true
	}
	var s string
	return raw[0] == '"' && json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) == ""
}

// Date layouts seen in expires_on: App Service 2017-09-01 and older IMDS
// builds used the .NET general date with an offset; RFC 3339 is accepted
// because some proxies and emulators normalise to it.
var expiresOnLayouts = []string{
	"1/2/2006 3:04:05 PM -07:00",
	"1/2/2006 3:04:05 PM Z07:00",
	"1/2/2006 15:04:05 -07:00",
	"1/2/2006 3:04:05 PM",
	time.RFC3339Nano,
	"2006-01-02 15:04:05Z07:00",
}

// Epoch seconds outside [minEpoch, maxEpoch] are rejected: zero means "unset"
// to Cached, and years past 9999 do not round-trip.
const (
	minEpoch = 1
	maxEpoch = 253402300799 // 9999-12-31T23:59:59Z
)

// parseExpiresOn reads expires_on: Unix seconds (as digits, possibly with a
// fraction) or one of the date forms above. Dates without an offset are UTC.
func parseExpiresOn(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty expires_on")
	}
	if secs, err := parseSeconds(s); err == nil {
		if secs < minEpoch || secs > maxEpoch {
			return time.Time{}, fmt.Errorf("expires_on %q is out of range", leak.Clip(s, maxExpiryText))
		}
		return time.Unix(secs, 0).UTC(), nil
	}
	for _, layout := range expiresOnLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Unix() < minEpoch || t.Unix() > maxEpoch {
				return time.Time{}, fmt.Errorf("expires_on %q is out of range", leak.Clip(s, maxExpiryText))
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable expires_on %q", leak.Clip(s, maxExpiryText))
}

// parseSeconds reads a whole or fractional number of seconds, truncating the
// fraction.
func parseSeconds(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) || f < math.MinInt64/2 || f > math.MaxInt64/2 {
		return 0, errors.New("out of range")
	}
	return int64(f), nil
}
