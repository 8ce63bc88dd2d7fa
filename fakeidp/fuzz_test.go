package fakeidp

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
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

// FuzzAdminConsentRedirect feeds arbitrary redirect_uri and state values to
// the admin-consent page and accepts its form: the page never fails with a
// 5xx, and a redirect only ever goes to a loopback host (the default app has
// no registered redirect URIs), so the page cannot be an open redirect.
func FuzzAdminConsentRedirect(f *testing.F) {
	s := sharedServer(f)
	f.Add("http://localhost:8400/done", "s")
	f.Add("https://127.0.0.1/cb?x=1#frag", "")
	f.Add("http://[::1]:1/", "a&b=c")
	f.Add("https://evil.test/", "")
	f.Add("http://localhost@evil.test/", "")
	f.Add("http://evil.test\\@localhost/", "")
	f.Add("//evil.test", "")
	f.Add("javascript:alert(1)", "")
	f.Fuzz(func(t *testing.T, redirect, state string) {
		path := "/" + DefaultConsentedTenantID + "/adminconsent"
		q := url.Values{"client_id": {DefaultAppClientID}, "redirect_uri": {redirect}, "state": {state}}
		rec := serve(s.Handler(), http.MethodGet, path+"?"+q.Encode(), "", nil)
		if rec.Code >= 500 {
			t.Fatalf("page: status %d", rec.Code)
		}
		if rec.Code != http.StatusOK {
			return
		}
		m := regexp.MustCompile(`name="csrf_token" value="([^"]*)"`).FindStringSubmatch(rec.Body.String())
		cookie := rec.Result().Cookies()
		if m == nil || len(cookie) != 1 {
			t.Fatal("an accepted request's page has no form token or cookie")
		}
		q.Set("csrf_token", m[1])
		q.Set("action", "accept")
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(q.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie[0])
		post := httptest.NewRecorder()
		s.Handler().ServeHTTP(post, req)
		switch {
		case post.Code >= 500:
			t.Fatalf("accept: status %d", post.Code)
		case post.Code == http.StatusFound:
			u, err := url.Parse(post.Header().Get("Location"))
			if err != nil {
				t.Fatalf("Location %q: %v", post.Header().Get("Location"), err)
			}
			if h := u.Hostname(); (u.Scheme != "http" && u.Scheme != "https") || (h != "localhost" && h != "127.0.0.1" && h != "::1") {
				t.Fatalf("redirected to %q", post.Header().Get("Location"))
			}
		case redirect != "":
			t.Fatalf("accept with redirect_uri %q: status %d, want a redirect", redirect, post.Code)
		}
	})
}
