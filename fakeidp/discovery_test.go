package fakeidp

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOpenIDConfiguration(t *testing.T) {
	s := newServer(t, nil, nil)
	status, doc, _ := get(t, s.Client(), s.URL()+"/"+DefaultConsentedTenantID+"/v2.0/.well-known/openid-configuration", nil)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	base := s.URL() + "/" + DefaultConsentedTenantID
	got := map[string]any{"issuer": doc["issuer"], "token_endpoint": doc["token_endpoint"], "authorization_endpoint": doc["authorization_endpoint"], "jwks_uri": doc["jwks_uri"]}
	want := map[string]any{"issuer": base + "/v2.0", "token_endpoint": base + "/oauth2/v2.0/token", "authorization_endpoint": base + "/oauth2/v2.0/authorize", "jwks_uri": base + "/discovery/v2.0/keys"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	// MSAL requires the issuer's scheme and host to be the authority's.
	iu, _ := url.Parse(doc["issuer"].(string))
	au, _ := url.Parse(s.URL())
	if iu.Scheme != au.Scheme || iu.Host != au.Host {
		t.Errorf("issuer %s not on the authority %s", doc["issuer"], s.URL())
	}

	status, doc, _ = get(t, s.Client(), s.URL()+"/nope/v2.0/.well-known/openid-configuration", nil)
	if status != 400 || doc["error"] != "invalid_tenant" || !strings.HasPrefix(doc["error_description"].(string), "AADSTS90002: ") {
		t.Errorf("unknown tenant: status %d body %v", status, doc)
	}
	status, doc, _ = get(t, s.Client(), s.URL()+"/organizations/v2.0/.well-known/openid-configuration", nil)
	if status != 200 || doc["issuer"] != s.URL()+"/{tenantid}/v2.0" {
		t.Errorf("organizations: status %d issuer %v", status, doc["issuer"])
	}
}

func TestInstanceDiscovery(t *testing.T) {
	s := sharedServer(t)
	ae := url.QueryEscape(s.URL() + "/" + DefaultHomeTenantID + "/oauth2/v2.0/authorize")
	_, doc, _ := get(t, s.Client(), s.URL()+"/common/discovery/instance?api-version=1.1&authorization_endpoint="+ae, nil)
	host := strings.TrimPrefix(s.URL(), "https://")
	want := map[string]any{
		"tenant_discovery_endpoint": s.URL() + "/" + DefaultHomeTenantID + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []any{map[string]any{"preferred_network": host, "preferred_cache": host, "aliases": []any{host}}},
	}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("instance discovery (-want +got):\n%s", diff)
	}
}

func TestJWKS(t *testing.T) {
	s := sharedServer(t)
	for _, u := range []string{s.KeysURL(), s.URL() + "/" + DefaultHomeTenantID + "/discovery/v2.0/keys", s.URL() + "/issuers/workload/keys"} {
		status, doc, _ := get(t, s.Client(), u, nil)
		if status != 200 {
			t.Fatalf("%s: status %d", u, status)
		}
		keys := doc["keys"].([]any)
		if len(keys) != 1 {
			t.Fatalf("%s: %d keys", u, len(keys))
		}
		k := keys[0].(map[string]any)
		if k["kty"] != "RSA" || k["use"] != "sig" || k["e"] != "AQAB" || k["kid"] == "" {
			t.Errorf("%s: key %v", u, k)
		}
		der, err := base64.StdEncoding.DecodeString(k["x5c"].([]any)[0].(string))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum(der)
		if k["x5t"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
			t.Errorf("%s: x5t is not the certificate's SHA-1 thumbprint", u)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if !jwkPublicKey(t, k).Equal(cert.PublicKey) {
			t.Errorf("%s: n/e differ from the x5c certificate's key", u)
		}
	}
	_, cfg, _ := get(t, s.Client(), s.URL()+"/issuers/workload/.well-known/openid-configuration", nil)
	if cfg["issuer"] != s.IssuerURL("workload") || cfg["jwks_uri"] != s.IssuerURL("workload")+"/keys" {
		t.Errorf("external issuer metadata %v", cfg)
	}
	if status, _, _ := get(t, s.Client(), s.URL()+"/issuers/nope/keys", nil); status != 404 {
		t.Errorf("unknown issuer keys: status %d", status)
	}
}

func TestNoListener(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true})
	if !strings.HasSuffix(s.URL(), ".test") || !strings.HasPrefix(s.URL(), "https://") || !strings.HasPrefix(s.MSIURL(), "http://") {
		t.Fatalf("URL %s MSIURL %s", s.URL(), s.MSIURL())
	}
	_, body, _ := get(t, s.Client(), s.AppServiceEndpoint()+"?api-version=2019-08-01&resource=api%3A%2F%2FAzureADTokenExchange", map[string]string{"X-IDENTITY-HEADER": s.IdentityHeader()})
	a := body["access_token"].(string)
	resp, err := s.Client().PostForm(s.URL()+"/"+DefaultConsentedTenantID+"/oauth2/v2.0/token", assertionForm(DefaultAppClientID, a))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("token status %d", resp.StatusCode)
	}
	if _, err := s.Client().Get("https://example.com/"); err == nil {
		t.Error("in-process transport reached a foreign host")
	}
}

func TestRequestsRedacted(t *testing.T) {
	var logs bytes.Buffer
	s := newServer(t, nil, &Options{NoListener: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	_, body, _ := get(t, s.Client(), s.AppServiceEndpoint()+"?api-version=2019-08-01&resource=api%3A%2F%2FAzureADTokenExchange", map[string]string{"X-IDENTITY-HEADER": s.IdentityHeader()})
	a := body["access_token"].(string)
	s.ResetRequests()
	f := assertionForm(DefaultAppClientID, a)
	okAns := postToken(t, s, DefaultConsentedTenantID, f)
	postToken(t, s, DefaultUnconsentedTenantID, f)
	f.Set("client_secret", "hunter2-secret")
	postToken(t, s, DefaultConsentedTenantID, f)

	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests recorded, want 3", len(reqs))
	}
	type outcome struct {
		Listener, Method, Path, Tenant, ClientID string
		Status                                   int
		Code                                     string
		ErrorCodes                               []int
		Assertion, Secret, Scope                 string
	}
	var got []outcome
	for _, r := range reqs {
		got = append(got, outcome{r.Listener, r.Method, r.Path, r.Tenant, r.ClientID, r.Status, r.Code, r.ErrorCodes,
			r.Form.Get("client_assertion"), r.Form.Get("client_secret"), r.Form.Get("scope")})
	}
	scope := "https://graph.microsoft.com/.default openid offline_access profile"
	want := []outcome{
		{"entra", "POST", "/" + DefaultConsentedTenantID + "/oauth2/v2.0/token", DefaultConsentedTenantID, DefaultAppClientID, 200, "", nil, redacted, "", scope},
		{"entra", "POST", "/" + DefaultUnconsentedTenantID + "/oauth2/v2.0/token", DefaultUnconsentedTenantID, DefaultAppClientID, 400, "unauthorized_client", []int{CodeAppNotFound}, redacted, "", scope},
		{"entra", "POST", "/" + DefaultConsentedTenantID + "/oauth2/v2.0/token", DefaultConsentedTenantID, DefaultAppClientID, 200, "", nil, redacted, redacted, scope},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	for _, r := range reqs {
		for _, vals := range r.Form {
			for _, v := range vals {
				if v == a || strings.Contains(v, "hunter2") {
					t.Error("Requests() holds a secret")
				}
			}
		}
	}
	for _, secret := range []string{a, okAns.Body["access_token"].(string), s.IdentityHeader(), "hunter2"} {
		if strings.Contains(logs.String(), secret) {
			t.Error("log output contains a secret")
		}
	}
	if n := strings.Count(logs.String(), "fakeidp request"); n != 4 {
		t.Errorf("%d log lines, want one per request (4)", n)
	}
	if n := strings.Count(logs.String(), " latency="); n != 4 {
		t.Errorf("%d log lines carry a latency, want every one (4)", n)
	}
	s.ResetRequests()
	if len(s.Requests()) != 0 {
		t.Error("ResetRequests kept requests")
	}
}
