package fakeidp

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzTokenEndpoint feeds arbitrary forms and assertions to the token
// endpoint: whatever arrives, it answers with a 2xx or 4xx JSON body, never a
// 5xx and never a panic.
func FuzzTokenEndpoint(f *testing.F) {
	s := sharedServer(f)
	valid := miAssertion(f, s, systemIdentity(s))
	p := strings.Split(valid, ".")
	base := assertionForm(DefaultAppClientID, "").Encode()
	f.Add([]byte(base), valid)
	f.Add([]byte(base), p[0]+"."+p[1]+".")
	f.Add([]byte(base), "e30.e30.e30")
	f.Add([]byte(base), "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOiJzb29uIiwiYXVkIjpbMSwyXX0.AA")
	f.Add([]byte("grant_type=client_credentials&scope=%zz&client_id="+DefaultAppClientID), "....")
	f.Add([]byte("scope=a/.default+b/.default&grant_type=client_credentials"), "")
	f.Add([]byte{0xff, '=', '&', '&', '='}, "\x00")
	f.Fuzz(func(t *testing.T, form []byte, assertion string) {
		body := string(form)
		if assertion != "" {
			body += "&client_assertion=" + url.QueryEscape(assertion)
		}
		for _, tenant := range []string{DefaultConsentedTenantID, DefaultUnconsentedTenantID} {
			req := httptest.NewRequest(http.MethodPost, "/"+tenant+"/oauth2/v2.0/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code >= 500 || rec.Code < 200 {
				t.Fatalf("status %d", rec.Code)
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
			}
		}
	})
}
