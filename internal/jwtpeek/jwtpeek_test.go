package jwtpeek

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tok builds an unsigned compact JWT from raw JSON texts.
func tok(header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + ".c2lnbmF0dXJlLWJ5dGVzLWZvci10ZXN0cw"
}

const hdr = `{"alg":"RS256","kid":"k1","typ":"JWT"}`

func TestParseHeader(t *testing.T) {
	got, err := ParseHeader(tok(hdr, `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Header{Alg: "RS256", Kid: "k1", Typ: "JWT"}, got); diff != "" {
		t.Errorf("ParseHeader (-want +got):\n%s", diff)
	}
}

func TestClaims(t *testing.T) {
	type claims struct {
		Iss   string          `json:"iss"`
		Aud   json.RawMessage `json:"aud"`
		Roles []string        `json:"roles"`
		Exp   json.Number     `json:"exp"`
	}
	t.Run("struct", func(t *testing.T) {
		var c claims
		if err := Claims(tok(hdr, `{"iss":"https://issuer/","aud":["a","b"],"roles":["Device.Read.All"],"exp":1800000000}`), &c); err != nil {
			t.Fatal(err)
		}
		want := claims{Iss: "https://issuer/", Aud: json.RawMessage(`["a","b"]`), Roles: []string{"Device.Read.All"}, Exp: "1800000000"}
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("Claims (-want +got):\n%s", diff)
		}
	})
	t.Run("map", func(t *testing.T) {
		var m map[string]any
		if err := Claims(tok(hdr, `{"sub":"s","exp":1800000000.5}`), &m); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]any{"sub": "s", "exp": 1800000000.5}, m); diff != "" {
			t.Errorf("Claims (-want +got):\n%s", diff)
		}
	})
	t.Run("padded segments", func(t *testing.T) {
		enc := base64.URLEncoding.EncodeToString
		var m map[string]any
		if err := Claims(enc([]byte(hdr))+"."+enc([]byte(`{"a":"b"}`))+".sig", &m); err != nil || m["a"] != "b" {
			t.Fatalf("Claims of a padded token = %v, %v", m, err)
		}
	})
	t.Run("empty signature is read", func(t *testing.T) {
		var m map[string]any
		if err := Claims(strings.TrimSuffix(tok(hdr, `{"a":"b"}`), "c2lnbmF0dXJlLWJ5dGVzLWZvci10ZXN0cw"), &m); err != nil {
			t.Fatalf("Claims: %v", err)
		}
	})
}

func TestErrors(t *testing.T) {
	huge := tok(hdr, `{"x":"`+strings.Repeat("a", MaxTokenBytes)+`"}`)
	tests := []struct {
		name, token, want string
	}{
		{"empty", "", "3 dot-separated parts, found 1"},
		{"one part", "eyJhbGciOiJSUzI1NiJ9", "found 1"},
		{"two parts", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0", "found 2"},
		{"JWE", "a.b.c.d.e", "found 5"},
		{"too large", huge, "longer than 64 KiB"},
		{"payload not base64url", "eyJhbGciOiJSUzI1NiJ9.!!!secret!!!.sig", "payload is not base64url"},
		{"payload not JSON", tok(hdr, `secretpayloadtext`), "payload is not a JSON object"},
		{"payload an array", tok(hdr, `["secretpayloadtext"]`), "payload is not a JSON object"},
		{"payload null", tok(hdr, `null`), "payload is not a JSON object"},
		{"payload broken JSON", tok(hdr, `{"exp":secretpayloadtext}`), "payload is not valid JSON"},
		{"wrong type", tok(hdr, `{"roles":"secretpayloadtext"}`), "payload field roles is a JSON string of the wrong type"},
		{"exp a word", tok(hdr, `{"exp":"secretpayloadtext"}`), "payload is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c struct {
				Exp   json.Number `json:"exp"`
				Roles []string    `json:"roles"`
			}
			err := Claims(tt.token, &c)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Claims() error = %q, want ErrMalformed saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error quotes the token: %q", err)
			}
		})
	}
}

func TestHeaderErrors(t *testing.T) {
	for _, token := range []string{"!!.e30.sig", "bm90anNvbg.e30.sig", "a.b"} {
		if _, err := ParseHeader(token); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseHeader(%q) error = %v, want ErrMalformed", token, err)
		}
	}
	_, err := ParseHeader(tok(`{"alg":1}`, `{}`))
	if err == nil || !strings.Contains(err.Error(), "header field alg") {
		t.Errorf("ParseHeader with a numeric alg: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    time.Time
		wantErr error
	}{
		{"integer", `{"exp":1800000000}`, time.Unix(1800000000, 0).UTC(), nil},
		{"float", `{"exp":1800000000.25}`, time.Unix(1800000000, 250000000).UTC(), nil},
		{"exponent", `{"exp":1.8e9}`, time.Unix(1800000000, 0).UTC(), nil},
		{"zero", `{"exp":0}`, time.Unix(0, 0).UTC(), nil},
		{"absent", `{"sub":"x"}`, time.Time{}, ErrNoExp},
		{"null", `{"exp":null}`, time.Time{}, ErrNoExp},
		{"numeric string", `{"exp":"1800000000"}`, time.Unix(1800000000, 0).UTC(), nil},
		{"word", `{"exp":"soon"}`, time.Time{}, ErrMalformed},
		{"negative", `{"exp":-1}`, time.Time{}, ErrMalformed},
		{"year 10000", `{"exp":253402300800}`, time.Time{}, ErrMalformed},
		{"huge", `{"exp":1e300}`, time.Time{}, ErrMalformed},
		{"overflows int64", `{"exp":99999999999999999999}`, time.Time{}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expiry(tok(hdr, tt.payload))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Expiry() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Fatalf("Expiry() = %v, %v; want %v in UTC", got, err, tt.want)
			}
		})
	}
}

// FuzzClaims feeds arbitrary tokens to every reader: none may panic, and no
// error may quote a segment of the token.
func FuzzClaims(f *testing.F) {
	f.Add(tok(hdr, `{"exp":1800000000,"aud":"a"}`))
	f.Add(tok(hdr, `{"exp":1.5e9}`))
	f.Add(tok(hdr, `{"exp":"soon"}`))
	f.Add(tok(`{"alg":"none"}`, `[]`))
	f.Add("a.b.c")
	f.Add("..")
	f.Add("eyJ.eyJ.")
	f.Fuzz(func(t *testing.T, token string) {
		var s struct {
			Exp   json.Number `json:"exp"`
			Aud   any         `json:"aud"`
			Roles []string    `json:"roles"`
		}
		var m map[string]any
		_, errH := ParseHeader(token)
		errS := Claims(token, &s)
		errM := Claims(token, &m)
		_, errE := Expiry(token)
		for _, err := range []error{errH, errS, errM, errE} {
			if err == nil {
				continue
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoExp) {
				t.Fatalf("error %q matches neither ErrMalformed nor ErrNoExp", err)
			}
			msg := err.Error()
			for _, seg := range strings.Split(token, ".") {
				// Short segments can occur in any English text.
				if len(seg) >= 12 && strings.Contains(msg, seg) {
					t.Fatalf("error %q quotes a segment of the token", msg)
				}
			}
		}
		if len(token) > MaxTokenBytes && errS == nil {
			t.Fatal("a token over MaxTokenBytes was read")
		}
	})
}

func TestAudience(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		want    Audience
		wantErr bool
	}{
		{"string", `{"aud":"api://AzureADTokenExchange"}`, Audience{"api://AzureADTokenExchange"}, false},
		{"array", `{"aud":["a","b"]}`, Audience{"a", "b"}, false},
		{"empty array", `{"aud":[]}`, Audience{}, false},
		{"absent", `{}`, nil, false},
		{"null", `{"aud":null}`, nil, false},
		{"number", `{"aud":12345678}`, nil, true},
		{"array of numbers", `{"aud":[12345678]}`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c struct {
				Aud Audience `json:"aud"`
			}
			err := Claims(tok(hdr, tc.payload), &c)
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) || strings.Contains(err.Error(), "12345678") {
					t.Errorf("err = %v, want ErrMalformed without the value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, c.Aud); diff != "" {
				t.Errorf("aud (-want +got):\n%s", diff)
			}
		})
	}
}
