package assertion

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
)

func gitHubJSON(w http.ResponseWriter, tok string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"count":1,"value":%q}`, tok)
}

func TestGitHubActionsRequest(t *testing.T) {
	clearIdentityEnv(t)
	tok := makeJWT(t, testNow.Add(5*time.Minute))
	fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { gitHubJSON(w, tok) })
	t.Setenv(EnvGitHubTokenRequestURL, fake.URL+"/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0")
	t.Setenv(EnvGitHubTokenRequestToken, testHeader)
	src, err := GitHubActions(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := src.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a.Token != tok || !a.ExpiresOn.Equal(testNow.Add(5*time.Minute)) {
		t.Errorf("assertion %v, want the response's JWT expiring at its exp", a)
	}
	reqs := fake.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests", len(reqs))
	}
	r := reqs[0]
	if r.Path != "/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken" {
		t.Errorf("path %q", r.Path)
	}
	// The request URL's own query is kept; the audience is added to it.
	want := map[string][]string{"api-version": {"2.0"}, "audience": {"api://AzureADTokenExchange"}}
	if diff := cmp.Diff(want, map[string][]string(r.Query)); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	if r.Header.Get("Authorization") != "bearer "+testHeader {
		t.Error("the request token was not sent as Authorization: bearer")
	}
	checkNoSecret(t, "String()", fmt.Sprint(src))
	checkNoSecret(t, "GoString()", fmt.Sprintf("%#v", src))
}

func TestGitHubActionsNeedsBothVariables(t *testing.T) {
	clearIdentityEnv(t)
	t.Setenv(EnvGitHubTokenRequestURL, "http://127.0.0.1:1/t?api-version=2.0")
	if _, err := GitHubActions(nil); err == nil || !strings.Contains(err.Error(), "id-token: write") {
		t.Errorf("error = %v, want one explaining the workflow permission", err)
	}
}

func TestGitHubActionsFailures(t *testing.T) {
	cases := []struct {
		name     string
		respond  func(w http.ResponseWriter, n int)
		attempts int
		want     string
		wantIs   error
	}{
		{"retried 503 then success", func(w http.ResponseWriter, n int) {
			if n == 0 {
				w.WriteHeader(503)
				return
			}
			gitHubJSON(w, makeJWT(t, testNow.Add(time.Hour)))
		}, 2, "", nil},
		{"retries bounded", func(w http.ResponseWriter, n int) { w.WriteHeader(500) }, 3, "500", nil},
		{"401 is final, the echoed request token scrubbed", func(w http.ResponseWriter, n int) {
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"message":"bad token %s"}`, testHeader)
		}, 1, "401", nil},
		{"no value", func(w http.ResponseWriter, n int) { fmt.Fprint(w, `{"count":0}`) }, 1, "no value", nil},
		{"value not a JWT", func(w http.ResponseWriter, n int) { fmt.Fprintf(w, `{"value":%q}`, testToken+"x") }, 1, "malformed", nil},
		{"not JSON", func(w http.ResponseWriter, n int) { fmt.Fprint(w, `{"value":"`+testToken) }, 1, "malformed token response", nil},
		{"huge body", func(w http.ResponseWriter, n int) {
			fmt.Fprint(w, `{"value":"`+strings.Repeat("x", 2<<20)+`"}`)
		}, 1, "", bodylimit.ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { tc.respond(w, n) })
			logs := &logRecorder{}
			src, err := GitHubActions(&GitHubActionsOptions{RequestURL: fake.URL + "/idtoken?api-version=2.0", RequestToken: testHeader, MaxRetries: 2, Logger: logs.log})
			if err != nil {
				t.Fatal(err)
			}
			waits(t, src)
			_, err = src.Assertion(context.Background())
			if got := len(fake.requests()); got != tc.attempts {
				t.Errorf("server saw %d requests, want %d", got, tc.attempts)
			}
			checkNoSecret(t, "log", logs.all())
			if tc.want == "" && tc.wantIs == nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			checkNoSecret(t, "error", err.Error())
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v does not contain %q", err, tc.want)
			}
		})
	}
}

func TestGitHubActionsRedirectNotFollowed(t *testing.T) {
	target := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { gitHubJSON(w, makeJWT(t, testNow.Add(time.Hour))) })
	origin := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, target.URL+"/stolen", http.StatusTemporaryRedirect)
	})
	src, err := GitHubActions(&GitHubActionsOptions{RequestURL: origin.URL + "/idtoken?api-version=2.0", RequestToken: testHeader, Transport: origin.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Assertion(context.Background()); err == nil {
		t.Error("a redirect answer became an assertion")
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("the redirect target saw %d requests carrying the request token", n)
	}
}

func TestGitHubActionsHint(t *testing.T) {
	fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusUnauthorized) })
	src, err := GitHubActions(&GitHubActionsOptions{RequestURL: fake.URL + "/idtoken?api-version=2.0", RequestToken: testHeader})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Assertion(context.Background())
	var re *ResponseError
	if !errors.As(err, &re) || !strings.Contains(re.Hint, "id-token: write") {
		t.Errorf("error %v, want a ResponseError whose hint names the workflow permission", err)
	}
}

// TestGitHubActionsDefaultClientUsesTheProxy: GitHub's endpoint is on the
// internet, so its default client honours HTTPS_PROXY, while the
// managed-identity sources' default goes direct.
func TestGitHubActionsDefaultClientUsesTheProxy(t *testing.T) {
	gh, err := GitHubActions(&GitHubActionsOptions{RequestURL: "https://pipelines.example/idtoken?api-version=2.0", RequestToken: testHeader})
	if err != nil {
		t.Fatal(err)
	}
	as, err := AppService(&AppServiceOptions{Endpoint: "http://127.0.0.1:1/msi/token", IdentityHeader: testHeader})
	if err != nil {
		t.Fatal(err)
	}
	proxied := func(src Source) bool {
		tr := msiOf(src).http.HTTPClient.Transport
		if tr == nil {
			return true // http.DefaultTransport, which reads the environment
		}
		ht, ok := tr.(*http.Transport)
		return ok && ht.Proxy != nil
	}
	if !proxied(gh) {
		t.Error("GitHubActions' default client ignores the proxy settings")
	}
	if proxied(as) {
		t.Error("AppService's default client would send the identity header through a proxy")
	}
}
