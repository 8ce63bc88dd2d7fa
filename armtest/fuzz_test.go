package armtest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/armtest"
)

// FuzzRequest feeds arbitrary paths, queries and Authorization headers to
// the fake ARM: whatever arrives it answers with ARM's JSON (never a 5xx,
// never a panic), and never repeats the bearer token.
func FuzzRequest(f *testing.F) {
	s, err := armtest.New(&armtest.Options{JWKS: jwksDoc(testKey()), Clock: func() time.Time { return testNow },
		Subscriptions: []armtest.Subscription{{ID: subA1, TenantID: tenantA, ResourceGroups: []armtest.ResourceGroup{{Name: "rg"}}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	tok := token(f, tenantA, nil)
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	f.Add("/subscriptions", "api-version=2022-12-01", "Bearer "+tok)
	f.Add("/subscriptions/"+subA1+"/resourcegroups/rg", "api-version=2022-12-01&$skiptoken=1", "Bearer "+tok)
	f.Add("/subscriptions/%zz/x", "api-version=2022-12-01", "Bearer "+tok)
	f.Add("/tenants", "api-version=2022-12-01&$skiptoken=-1", "bearer "+tok+" x")
	f.Add("//", "", "Basic x")
	f.Fuzz(func(t *testing.T, path, query, auth string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req := httptest.NewRequest(http.MethodGet, "https://arm.test/", nil)
		req.URL.Path, req.URL.RawPath, req.URL.RawQuery = path, "", query
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 || rec.Code < 200 {
			t.Fatalf("status %d", rec.Code)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
		}
		// Not leak.Find: a fuzzed path may itself hold "eyJ", which the
		// answer may quote; the token's signature must never come back.
		if b := rec.Body.String(); strings.Contains(b, tok) || strings.Contains(b, sig) {
			t.Fatal("the answer holds the token's signature")
		}
	})
}
