package fakeidp

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
)

func TestGitHubTokenRequest(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true, SigningKeyBits: 1024})
	u := s.GitHubTokenRequestURL(DefaultGitHubIssuer) + "&audience=" + "api%3A%2F%2FAzureADTokenExchange"
	if status, _, _ := get(t, s.Client(), u, nil); status != 401 {
		t.Errorf("no request token: status %d, want 401", status)
	}
	if status, _, _ := get(t, s.Client(), u, map[string]string{"Authorization": "bearer wrong"}); status != 401 {
		t.Errorf("wrong request token: status %d, want 401", status)
	}
	status, body, _ := get(t, s.Client(), u, map[string]string{"Authorization": "bearer " + s.GitHubRequestToken()})
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	tok, _ := body["value"].(string)
	var c map[string]any
	if err := jwtpeek.Claims(tok, &c); err != nil {
		t.Fatal("value is not a JWT")
	}
	want := map[string]any{
		"iss": s.IssuerURL(DefaultGitHubIssuer), "sub": DefaultGitHubSubject, "aud": TokenExchangeAudience,
		"repository": DefaultGitHubRepository, "repository_owner": "contoso", "ref": DefaultGitHubRef, "ref_type": "branch",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	// Entra accepts it through the app's federated credential.
	if a := postToken(t, s, DefaultConsentedTenantID, assertionForm(DefaultAppClientID, tok)); a.Status != 200 {
		t.Errorf("the GitHub token was refused: %s", a.Raw)
	}
	// No audience: GitHub's default, the owner's URL.
	_, body, _ = get(t, s.Client(), s.GitHubTokenRequestURL(DefaultGitHubIssuer), map[string]string{"Authorization": "Bearer " + s.GitHubRequestToken()})
	tok, _ = body["value"].(string)
	_ = jwtpeek.Claims(tok, &c)
	if c["aud"] != "https://github.com/contoso" {
		t.Errorf("default aud %v", c["aud"])
	}
	if status, _, _ := get(t, s.Client(), s.GitHubTokenRequestURL(DefaultWorkloadIssuer), map[string]string{"Authorization": "bearer " + s.GitHubRequestToken()}); status != 404 {
		t.Errorf("token request of a non-GitHub issuer: status %d, want 404", status)
	}
}

func TestGitHubSubjects(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true, SigningKeyBits: 1024})
	cases := []struct {
		run     GitHubRun
		subject string
		code    int
	}{
		{GitHubRun{Repository: DefaultGitHubRepository, Ref: DefaultGitHubRef}, DefaultGitHubSubject, 0},
		{GitHubRun{Repository: DefaultGitHubRepository, Ref: "refs/heads/feature"}, "repo:contoso/inventory:ref:refs/heads/feature", codeFICSubject},
		{GitHubRun{Repository: DefaultGitHubRepository, Ref: "refs/tags/v1.2.0"}, "repo:contoso/inventory:ref:refs/tags/v1.2.0", codeFICSubject},
		{GitHubRun{Repository: DefaultGitHubRepository, Ref: DefaultGitHubRef, Environment: "production"}, "repo:contoso/inventory:environment:production", codeFICSubject},
		{GitHubRun{Repository: DefaultGitHubRepository, Ref: "refs/pull/7/merge", EventName: "pull_request"}, "repo:contoso/inventory:pull_request", codeFICSubject},
		{GitHubRun{Repository: "Contoso/inventory", Ref: DefaultGitHubRef}, "repo:Contoso/inventory:ref:refs/heads/main", codeFICSubject},
	}
	for _, tc := range cases {
		t.Run(tc.subject, func(t *testing.T) {
			if got := tc.run.Subject(); got != tc.subject {
				t.Errorf("Subject() = %q, want %q", got, tc.subject)
			}
			tok, err := s.IssueGitHubToken(DefaultGitHubIssuer, tc.run, TokenExchangeAudience, 0)
			if err != nil {
				t.Fatal(err)
			}
			a := postToken(t, s, DefaultConsentedTenantID, assertionForm(DefaultAppClientID, tok))
			if a.code() != tc.code {
				t.Errorf("AADSTS %d, want %d: %s", a.code(), tc.code, a.Raw)
			}
			if tc.code != 0 && !strings.Contains(a.Raw, tc.subject) {
				t.Errorf("the error does not name the presented subject %q", tc.subject)
			}
		})
	}
	if _, err := s.IssueGitHubToken(DefaultWorkloadIssuer, cases[0].run, TokenExchangeAudience, 0); err == nil {
		t.Error("a non-GitHub issuer issued a GitHub token")
	}
}

func TestArcChallenge(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, nil, &Options{NoListener: true, SigningKeyBits: 1024, ArcKeyDirectory: dir})
	u := s.ArcEndpoint() + "?api-version=2019-11-01&resource=api%3A%2F%2FAzureADTokenExchange"
	if status, _, _ := get(t, s.Client(), u, nil); status != 400 {
		t.Errorf("no Metadata header: status %d, want 400", status)
	}
	status, _, hdr := get(t, s.Client(), u, map[string]string{"Metadata": "true"})
	if status != 401 {
		t.Fatalf("first request: status %d, want 401", status)
	}
	realm, ok := strings.CutPrefix(hdr.Get("WWW-Authenticate"), "Basic realm=")
	if !ok || filepath.Dir(realm) != dir || filepath.Ext(realm) != ".key" {
		t.Fatalf("challenge %q does not name a .key file in %s", hdr.Get("WWW-Authenticate"), dir)
	}
	key, err := os.ReadFile(realm)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(realm); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if status, _, _ := get(t, s.Client(), u, map[string]string{"Metadata": "true", "Authorization": "Basic wrong"}); status != 401 {
		t.Errorf("wrong key: status %d, want 401", status)
	}
	status, body, _ := get(t, s.Client(), u, map[string]string{"Metadata": "true", "Authorization": "Basic " + string(key)})
	if status != 200 {
		t.Fatalf("with the key: status %d", status)
	}
	var c map[string]any
	if err := jwtpeek.Claims(body["access_token"].(string), &c); err != nil || c["sub"] != DefaultSystemIdentityObjectID {
		t.Errorf("token subject %v, want the system-assigned identity", c["sub"])
	}
	if _, err := os.Stat(realm); !os.IsNotExist(err) {
		t.Error("a used key file was left behind")
	}
	if status, _, _ := get(t, s.Client(), u, map[string]string{"Metadata": "true", "Authorization": "Basic " + string(key)}); status != 401 {
		t.Errorf("a key used twice: status %d, want 401", status)
	}
	if status, _, _ := get(t, s.Client(), u+"&client_id="+DefaultUserIdentityClientID, map[string]string{"Metadata": "true"}); status != 400 {
		t.Errorf("user-assigned selector: status %d, want 400", status)
	}
}

func TestArcKeysBounded(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true, SigningKeyBits: 1024})
	u := s.ArcEndpoint() + "?api-version=2019-11-01&resource=r"
	for range maxArcKeys + 10 {
		get(t, s.Client(), u, map[string]string{"Metadata": "true"})
	}
	dir := s.ArcKeyDirectory()
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != maxArcKeys {
		t.Errorf("%d key files outstanding, want at most %d", len(files), maxArcKeys)
	}
	s.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("Close left the server's own key directory behind")
	}
}

func TestCloudScenarios(t *testing.T) {
	for _, c := range Clouds() {
		t.Run(c.Name, func(t *testing.T) {
			sc, err := DefaultScenarioIn(c.Name)
			if err != nil {
				t.Fatal(err)
			}
			s := newServer(t, sc, &Options{NoListener: true, SigningKeyBits: 1024})
			_, doc, _ := get(t, s.Client(), s.URL()+"/"+DefaultHomeTenantID+"/v2.0/.well-known/openid-configuration", nil)
			if doc["cloud_instance_name"] != c.InstanceName || "https://"+doc["msgraph_host"].(string) != c.GraphHost {
				t.Errorf("discovery says cloud %v, Graph %v", doc["cloud_instance_name"], doc["msgraph_host"])
			}
			for _, aud := range []string{"api://AzureADTokenExchange", "api://AzureADTokenExchangeUSGov", "api://AzureADTokenExchangeChina"} {
				tok, _, err := s.IssueManagedIdentityToken(systemIdentity(s), aud)
				if err != nil {
					t.Fatal(err)
				}
				a := postToken(t, s, DefaultConsentedTenantID, assertionForm(DefaultAppClientID, tok))
				want := codeFICAudience
				if aud == c.TokenExchangeAudience {
					want = 0
				}
				if a.code() != want {
					t.Errorf("assertion for %s: AADSTS %d, want %d", aud, a.code(), want)
				}
			}
		})
	}
	if _, err := DefaultScenarioIn("mars"); err == nil {
		t.Error("an unknown cloud was accepted")
	}
	sc := DefaultScenario()
	sc.Cloud = "mars"
	if err := sc.Validate(); err == nil || !strings.Contains(err.Error(), "cloud") {
		t.Errorf("Validate = %v, want a cloud problem", err)
	}
}

func TestIssuerKindValidation(t *testing.T) {
	sc := DefaultScenario()
	sc.Issuers = append(sc.Issuers,
		ExternalIssuer{Name: "gh2", Kind: IssuerKindGitHub, Repository: "noslash", Ref: "main"},
		ExternalIssuer{Name: "k8s", Repository: "a/b"},
		ExternalIssuer{Name: "x", Kind: "gitlab"})
	err := sc.Validate()
	if err == nil {
		t.Fatal("bad issuers accepted")
	}
	for _, want := range []string{"issuers[2].repository", "issuers[2].ref", "issuers[3]: repository", "issuers[4].kind"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
}

// TestPlatformFaults: faults reach the Arc and GitHub endpoints by name, in
// their protocol's error shape, and "msi" covers Arc.
func TestPlatformFaults(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true, SigningKeyBits: 1024})
	for _, spec := range []string{"arc:503:count=1", "msi:500:count=1", "github:429:count=1"} {
		f, err := ParseFault(spec)
		if err != nil {
			t.Fatal(err)
		}
		s.AddFault(f)
	}
	arc := s.ArcEndpoint() + "?api-version=2019-11-01&resource=r"
	if status, body, _ := get(t, s.Client(), arc, map[string]string{"Metadata": "true"}); status != 503 || body["error"] == nil {
		t.Errorf("arc fault: status %d body %v, want 503 in the IMDS shape", status, body)
	}
	if status, _, _ := get(t, s.Client(), arc, map[string]string{"Metadata": "true"}); status != 500 {
		t.Errorf("msi fault on arc: status %d, want 500", status)
	}
	if status, _, _ := get(t, s.Client(), arc, map[string]string{"Metadata": "true"}); status != 401 {
		t.Errorf("after the faults: status %d, want the challenge", status)
	}
	gh := s.GitHubTokenRequestURL(DefaultGitHubIssuer)
	if status, body, _ := get(t, s.Client(), gh, map[string]string{"Authorization": "bearer " + s.GitHubRequestToken()}); status != 429 || body["message"] == nil {
		t.Errorf("github fault: status %d body %v", status, body)
	}
}

// TestGitHubIssuerDiscovery: the GitHub-like issuer publishes its discovery
// document and keys, as token.actions.githubusercontent.com does, and its
// tokens verify with those keys.
func TestGitHubIssuerDiscovery(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true, SigningKeyBits: 1024})
	iss := s.IssuerURL(DefaultGitHubIssuer)
	status, doc, _ := get(t, s.Client(), iss+"/.well-known/openid-configuration", nil)
	if status != 200 || doc["issuer"] != iss || doc["jwks_uri"] != iss+"/keys" {
		t.Fatalf("discovery: status %d, %v", status, doc)
	}
	status, keys, _ := get(t, s.Client(), iss+"/keys", nil)
	list, _ := keys["keys"].([]any)
	if status != 200 || len(list) != 1 {
		t.Fatalf("keys: status %d, %v", status, keys)
	}
	tok, err := s.IssueGitHubToken(DefaultGitHubIssuer, GitHubRun{Repository: DefaultGitHubRepository, Ref: DefaultGitHubRef}, TokenExchangeAudience, 0)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := jwtpeek.ParseHeader(tok)
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := list[0].(map[string]any)["kid"].(string); kid != hdr.Kid {
		t.Errorf("token kid %q is not the published key's %q", hdr.Kid, kid)
	}
}

// TestCloudAudienceIsAResource: a US Government scenario's managed identity
// issues assertions for its cloud's audience (the fix: a resource Entra there
// knows) and for the public one (which its credentials refuse with
// AADSTS700212, as the issue describes), but not for China's.
func TestCloudAudienceIsAResource(t *testing.T) {
	sc, err := DefaultScenarioIn(CloudUSGovernment)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, sc, &Options{NoListener: true, SigningKeyBits: 1024})
	for _, tc := range []struct {
		aud       string
		msiStatus int
		code      int
	}{
		{"api://AzureADTokenExchangeUSGov", 200, 0},
		{"api://AzureADTokenExchange", 200, codeFICAudience},
		{"api://AzureADTokenExchangeChina", 400, 0},
	} {
		status, body, _ := get(t, s.Client(), s.AppServiceEndpoint()+"?api-version=2019-08-01&resource="+tc.aud, map[string]string{"X-IDENTITY-HEADER": s.IdentityHeader()})
		if status != tc.msiStatus {
			t.Errorf("%s: managed identity status %d, want %d", tc.aud, status, tc.msiStatus)
			continue
		}
		if status != 200 {
			continue
		}
		a := postToken(t, s, DefaultConsentedTenantID, assertionForm(DefaultAppClientID, body["access_token"].(string)))
		if a.code() != tc.code {
			t.Errorf("%s: AADSTS %d, want %d", tc.aud, a.code(), tc.code)
		}
	}
}

// The Arc agent answers as IMDS does, refusals included: a resource Entra
// does not know is AADSTS500011, not a token.
func TestArcRefusesAnUnknownResource(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true, SigningKeyBits: 1024})
	u := s.ArcEndpoint() + "?api-version=2019-11-01&resource=" + url.QueryEscape("api://no-such-api")
	_, _, hdr := get(t, s.Client(), u, map[string]string{"Metadata": "true"})
	realm, ok := strings.CutPrefix(hdr.Get("WWW-Authenticate"), "Basic realm=")
	if !ok {
		t.Fatal("no Basic challenge")
	}
	key, err := os.ReadFile(realm)
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ := get(t, s.Client(), u, map[string]string{"Metadata": "true", "Authorization": "Basic " + string(key)})
	if status != 400 || body["error"] != "invalid_resource" || body["access_token"] != nil {
		t.Errorf("unknown resource: status %d, error %v, token present %v; want 400 invalid_resource and no token", status, body["error"], body["access_token"] != nil)
	}
}
