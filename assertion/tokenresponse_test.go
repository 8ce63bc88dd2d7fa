package assertion

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseExpiresOn(t *testing.T) {
	cases := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"1506484173", time.Unix(1506484173, 0).UTC(), false},
		{" 1506484173 ", time.Unix(1506484173, 0).UTC(), false},
		{"1506484173.75", time.Unix(1506484173, 0).UTC(), false},
		{"11/27/2026 10:00:00 AM +00:00", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), false},
		{"11/27/2026 3:04:05 PM +01:00", time.Date(2026, 11, 27, 14, 4, 5, 0, time.UTC), false},
		{"1/2/2026 3:04:05 PM", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), false},
		{"11/27/2026 22:00:00 +00:00", time.Date(2026, 11, 27, 22, 0, 0, 0, time.UTC), false},
		{"2026-11-27T10:00:00Z", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), false},
		{"2026-11-27T11:00:00+01:00", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), false},
		{"", time.Time{}, true},
		{"0", time.Time{}, true},
		{"-5", time.Time{}, true},
		{"99999999999999", time.Time{}, true},
		{"NaN", time.Time{}, true},
		{"Inf", time.Time{}, true},
		{"tomorrow", time.Time{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseExpiresOn(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseExpiresOn(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if !got.Equal(tc.want) {
				t.Errorf("parseExpiresOn(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseTokenResponse(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		want    Assertion
		wantErr string
	}{
		{"App Service 2019-08-01", `{"access_token":"T","expires_on":"1506484173","resource":"api://AzureADTokenExchange","token_type":"Bearer","client_id":"c"}`,
			Assertion{Token: "T", ExpiresOn: time.Unix(1506484173, 0).UTC()}, ""},
		{"IMDS 2018-02-01", `{"access_token":"T","refresh_token":"","expires_in":"3599","expires_on":"1506484173","not_before":"1506480273","resource":"r","token_type":"Bearer"}`,
			Assertion{Token: "T", ExpiresOn: time.Unix(1506484173, 0).UTC()}, ""},
		{"expires_on as a number", `{"access_token":"T","expires_on":1506484173}`,
			Assertion{Token: "T", ExpiresOn: time.Unix(1506484173, 0).UTC()}, ""},
		{"App Service 2017-09-01 date", `{"access_token":"T","expires_on":"11/27/2026 10:00:00 AM +00:00"}`,
			Assertion{Token: "T", ExpiresOn: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}, ""},
		{"expires_in only, string", `{"access_token":"T","expires_in":"3600"}`,
			Assertion{Token: "T", ExpiresOn: testNow.Add(time.Hour)}, ""},
		{"expires_in only, number", `{"access_token":"T","expires_in":60}`,
			Assertion{Token: "T", ExpiresOn: testNow.Add(time.Minute)}, ""},
		{"empty expires_on falls back to expires_in", `{"access_token":"T","expires_on":"","expires_in":"60"}`,
			Assertion{Token: "T", ExpiresOn: testNow.Add(time.Minute)}, ""},
		{"no expiry", `{"access_token":"T"}`, Assertion{Token: "T"}, ""},
		{"null expiry", `{"access_token":"T","expires_on":null}`, Assertion{Token: "T"}, ""},
		{"negative expires_in", `{"access_token":"T","expires_in":"-1"}`, Assertion{}, "unreadable expires_in"},
		{"huge expires_in", `{"access_token":"T","expires_in":"9999999999999"}`, Assertion{}, "unreadable expires_in"},
		{"no token", `{"expires_on":"1506484173"}`, Assertion{}, "no access_token"},
		{"not JSON", `<html>`, Assertion{}, "malformed token response (invalid JSON at offset 1)"},
		{"token not a string", `{"access_token":5}`, Assertion{}, "malformed token response (field access_token has JSON type number)"},
		{"array", `[]`, Assertion{}, "malformed token response"},
		{"object expiry", `{"access_token":"T","expires_on":{}}`, Assertion{}, "neither a string nor a number"},
		// Quoted expiry text is clipped and on one line.
		{"long unreadable expires_on", `{"access_token":"T","expires_on":"` + strings.Repeat("x", 100) + `"}`, Assertion{}, `unreadable expires_on "` + strings.Repeat("x", maxExpiryText) + `…"`},
		{"expires_on with a newline", `{"access_token":"T","expires_on":"soon\nforged"}`, Assertion{}, `unreadable expires_on "soon forged"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTokenResponse([]byte(tc.body), testNow)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("assertion (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrorsNeverQuoteTheBody(t *testing.T) {
	bodies := []string{
		`{"access_token":"` + testToken + `"`,
		`{"access_token":"` + testToken + `","expires_on":{}}`,
		`{"access_token":["` + testToken + `"]}`,
		testToken,
		`"` + testToken + `"`,
	}
	for i, b := range bodies {
		_, err := parseTokenResponse([]byte(b), testNow)
		if err == nil {
			t.Errorf("body %d: no error", i)
			continue
		}
		checkNoSecret(t, "parse error", err.Error())
	}
}

func FuzzParseExpiresOn(f *testing.F) {
	for _, s := range []string{"1506484173", "1506484173.5", "11/27/2026 10:00:00 AM +00:00", "2026-11-27T10:00:00Z", "", "-1", "1e400", "NaN", "0x1p62", "13/45/2026 99:99:99 PM +99:99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseExpiresOn(s)
		if err == nil && (got.Unix() < minEpoch || got.Unix() > maxEpoch) {
			t.Errorf("parseExpiresOn accepted an out-of-range time %v", got)
		}
	})
}

func FuzzParseTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"T","expires_on":"1506484173","resource":"r","token_type":"Bearer","client_id":"c"}`,
		`{"access_token":"T","refresh_token":"","expires_in":"3599","expires_on":"1506484173","not_before":"1506480273","resource":"r","token_type":"Bearer"}`,
		`{"access_token":"T","expires_on":1506484173}`,
		`{"access_token":"T","expires_in":1e308}`,
		`{"access_token":"T","expires_on":"11/27/2026 10:00:00 AM +00:00"}`,
		`{"access_token":"T","expires_on":null,"expires_in":null}`,
		`{`, `null`, `[]`, `""`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := parseTokenResponse(body, testNow)
		if err == nil && a.Token == "" {
			t.Error("success without a token")
		}
	})
}
