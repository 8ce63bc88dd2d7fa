package fakeidp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
)

// newServer starts a fake and closes it with the test.
func newServer(t testing.TB, sc *Scenario, o *Options) *Server {
	t.Helper()
	s, err := New(sc, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// fixedClock is a settable clock for tests.
type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

// tokenAnswer is a decoded token endpoint answer.
type tokenAnswer struct {
	Status int
	Body   map[string]any
	Raw    string
}

// code returns the first AADSTS code of an error answer, 0 otherwise.
func (a tokenAnswer) code() int {
	codes, _ := a.Body["error_codes"].([]any)
	if len(codes) == 0 {
		return 0
	}
	f, _ := codes[0].(float64)
	return int(f)
}

// postToken calls the token endpoint through Handler(), in process.
func postToken(t testing.TB, s *Server, tenant string, form url.Values) tokenAnswer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return decodeAnswer(t, rec.Code, rec.Body.Bytes())
}

func decodeAnswer(t testing.TB, status int, b []byte) tokenAnswer {
	t.Helper()
	a := tokenAnswer{Status: status, Raw: string(b)}
	if err := json.Unmarshal(b, &a.Body); err != nil {
		t.Fatalf("answer (status %d) is not JSON: %v", status, err)
	}
	return a
}

// assertionForm is the form azidentity sends for a client assertion.
func assertionForm(clientID, assertion string) url.Values {
	return url.Values{
		"client_assertion":      {assertion},
		"client_assertion_type": {jwtBearerAssertionType},
		"client_id":             {clientID},
		"client_info":           {"1"},
		"grant_type":            {"client_credentials"},
		"scope":                 {"https://graph.microsoft.com/.default openid offline_access profile"},
	}
}

func systemIdentity(s *Server) ManagedIdentity {
	for _, m := range s.Scenario().ManagedIdentities {
		if m.Kind == KindSystem {
			return m
		}
	}
	panic("no system-assigned identity")
}

func userIdentity(s *Server) ManagedIdentity {
	for _, m := range s.Scenario().ManagedIdentities {
		if m.Kind == KindUser {
			return m
		}
	}
	panic("no user-assigned identity")
}

func miAssertion(t testing.TB, s *Server, m ManagedIdentity) string {
	t.Helper()
	tok, _, err := s.IssueManagedIdentityToken(m, TokenExchangeAudience)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// get fetches a URL with the server's client and decodes a JSON body.
func get(t testing.TB, c *http.Client, u string, hdr map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: status %d, body is not JSON: %v", req.URL.Path, resp.StatusCode, err)
	}
	return resp.StatusCode, m, resp.Header
}

// claimsOf decodes a JWT's payload without verifying it.
func claimsOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := jwtpeek.Claims(tok, &m); err != nil {
		t.Fatalf("token payload: %v", err)
	}
	return m
}

func headerOf(t testing.TB, tok string) jwtpeek.Header {
	t.Helper()
	h, err := jwtpeek.ParseHeader(tok)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	return h
}

// serve runs one request through a handler in process.
func serve(h http.Handler, method, target, body string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
