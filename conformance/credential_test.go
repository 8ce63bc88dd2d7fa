package conformance

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
)

func newIDP(t *testing.T) *fakeidp.Server {
	t.Helper()
	idp, err := fakeidp.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	return idp
}

func appServiceSource(t *testing.T, idp *fakeidp.Server) assertion.Source {
	t.Helper()
	src, err := assertion.AppService(&assertion.AppServiceOptions{
		Endpoint:       idp.AppServiceEndpoint(),
		IdentityHeader: idp.IdentityHeader(),
		Transport:      idp.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestSourceAppServiceAgainstFakeIDP(t *testing.T) {
	idp := newIDP(t)
	TestSource(t, func(t *testing.T) assertion.Source { return appServiceSource(t, idp) },
		&SourceOptions{Audience: fakeidp.TokenExchangeAudience})
}

func tokenRequests(idp *fakeidp.Server) func() int {
	return func() int {
		n := 0
		for _, r := range idp.Requests() {
			if r.Listener == fakeidp.ListenerEntra && strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
				n++
			}
		}
		return n
	}
}

func TestCredentialFederatedAgainstFakeIDP(t *testing.T) {
	idp := newIDP(t)
	TestCredential(t, func(t *testing.T) azcore.TokenCredential {
		cred, err := federated.NewCredential(fakeidp.DefaultHomeTenantID, fakeidp.DefaultAppClientID, appServiceSource(t, idp), &federated.Options{
			ClientOptions: azcore.ClientOptions{
				Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: idp.URL()},
				Transport: idp.Client(),
			},
			AdditionallyAllowedTenants: []string{fakeidp.DefaultConsentedTenantID},
		})
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}, &CredentialOptions{
		Tenants:          []string{fakeidp.DefaultHomeTenantID, fakeidp.DefaultConsentedTenantID},
		DisallowedTenant: fakeidp.DefaultUnconsentedTenantID,
		ExpectCaching:    true,
		Requests:         tokenRequests(idp),
		RequireJWT:       true,
	})
}

// fakeCred mints JWTs itself; its knobs break it in one way each.
type fakeCred struct {
	requests atomic.Int64
	serial   atomic.Int64

	noCache   bool // every call is a new "request"
	ignoreCtx bool
	// leakInError makes errors quote the last token: a deliberately broken
	// credential, so the tests can prove that the harness catches the leak
	// and that its own report redacts the token (TestCredentialReportRedactsALeakedToken).
	leakInError    bool
	ignoreTenant   bool // tid is always "home"
	lifetime       time.Duration
	expiresOnShift time.Duration // added to ExpiresOn beyond exp

	last atomic.Pointer[azcore.AccessToken]
}

func (c *fakeCred) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if err := ctx.Err(); err != nil && !c.ignoreCtx {
		if last := c.last.Load(); c.leakInError && last != nil {
			return azcore.AccessToken{}, fmt.Errorf("fakeCred (last token %s): %w", last.Token, err)
		}
		return azcore.AccessToken{}, fmt.Errorf("fakeCred: %w", err)
	}
	tenant := opts.TenantID
	if tenant == "" || c.ignoreTenant {
		tenant = "home"
	}
	if tenant == "forbidden" {
		if last := c.last.Load(); c.leakInError && last != nil {
			return azcore.AccessToken{}, fmt.Errorf("fakeCred: tenant not allowed (token %s)", last.Token)
		}
		return azcore.AccessToken{}, fmt.Errorf("fakeCred: tenant %s not allowed", tenant)
	}
	if last := c.last.Load(); last != nil && !c.noCache && !c.ignoreTenant && opts.TenantID == "" {
		return *last, nil
	}
	c.requests.Add(1)
	lifetime := c.lifetime
	if lifetime == 0 {
		lifetime = time.Hour
	}
	exp := time.Now().Add(lifetime).Truncate(time.Second)
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": "https://graph.microsoft.com", "tid": tenant, "exp": exp.Unix(), "uti": fmt.Sprint(c.serial.Add(1)),
	}).SignedString(testKey)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	tok := azcore.AccessToken{Token: s, ExpiresOn: exp.Add(c.expiresOnShift)}
	if opts.TenantID == "" {
		c.last.Store(&tok)
	}
	return tok, nil
}

func TestCredentialAcceptsWellBehavedFake(t *testing.T) {
	var c *fakeCred
	TestCredential(t, func(*testing.T) azcore.TokenCredential { c = &fakeCred{}; return c }, &CredentialOptions{
		Tenants:          []string{"tenant-a", "tenant-b"},
		DisallowedTenant: "forbidden",
		ExpectCaching:    true,
		Requests:         func() int { return int(c.requests.Load()) },
		RequireJWT:       true,
	})
}

func TestCredentialChecksCatchBrokenCredentials(t *testing.T) {
	tests := []struct {
		name  string
		cred  *fakeCred
		check string
		want  string
	}{
		{"error contains the token", &fakeCred{leakInError: true}, "ErrorsDoNotLeakToken", "contains a token"},
		{"ignores a cancelled context", &fakeCred{ignoreCtx: true, noCache: true}, "CancelledContext", "returned no error"},
		{"no cache", &fakeCred{noCache: true}, "Caching", "want 0 (served from the cache)"},
		{"ignores TenantID", &fakeCred{ignoreTenant: true}, "TenantSelection", "got a token whose tid is home"},
		{"expired token", &fakeCred{lifetime: -time.Minute}, "GetToken", "expired at"},
		{"expired token, concurrent", &fakeCred{lifetime: -time.Minute}, "Concurrent", "expired at"},
		{"ExpiresOn after exp", &fakeCred{expiresOnShift: time.Hour}, "GetToken", "later than the JWT's exp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := (&CredentialOptions{
				Tenants:          []string{"tenant-a"},
				DisallowedTenant: "forbidden",
				ExpectCaching:    true,
				Requests:         func() int { return int(tt.cred.requests.Load()) },
			}).withDefaults()
			var errs []error
			found := false
			for _, c := range credentialChecks {
				if c.name == tt.check {
					errs, found = c.run(tt.cred, &o), true
				}
			}
			if !found {
				t.Fatalf("no credential check named %q", tt.check)
			}
			if !anyContains(errs, tt.want) {
				t.Errorf("check %s reported %d error(s) %s; want one containing %q", tt.check, len(errs), redactSecrets(fmt.Sprintf("%q", errs), nil), tt.want)
			}
			if last := tt.cred.last.Load(); last != nil {
				for _, err := range errs {
					if containsSecret(err.Error(), last.Token) {
						t.Error("the harness's own report contains the token")
					}
				}
			}
		})
	}
}

func TestCredentialCachingNeedsHook(t *testing.T) {
	o := (&CredentialOptions{ExpectCaching: true}).withDefaults()
	if errs := checkCredCaching(&fakeCred{}, &o); !anyContains(errs, "Requests is nil") {
		t.Errorf("Caching without a Requests hook reported %s; want a complaint about the missing hook", redactSecrets(fmt.Sprintf("%q", errs), nil))
	}
	// A hook that counts nothing is not wired to the credential.
	o.Requests = func() int { return 0 }
	if errs := checkCredCaching(&fakeCred{}, &o); !anyContains(errs, "made no request according to Requests") {
		t.Errorf("Caching with a dead hook reported %s; want a complaint about the hook", redactSecrets(fmt.Sprintf("%q", errs), nil))
	}
}

// TestCredentialReportRedactsALeakedToken: a credential whose failure quotes
// a token it returned earlier is reported as leaking, and the report that
// quotes the failure does not repeat the token (live mode runs this harness
// in CI logs against real Entra).
func TestCredentialReportRedactsALeakedToken(t *testing.T) {
	cred := &fakeCred{leakInError: true}
	o := (&CredentialOptions{Tenants: []string{"", "forbidden"}}).withDefaults()
	errs := checkCredTenants(cred, &o)
	last := cred.last.Load()
	if last == nil {
		t.Fatal("the credential returned no token")
	}
	report := fmt.Sprintf("%q", errs)
	if !anyContains(errs, "GetToken failed") || !anyContains(errs, "contains a token") {
		t.Errorf("report %s; want the failure and the leak reported", redactSecrets(report, []string{last.Token}))
	}
	if containsSecret(report, last.Token) {
		t.Error("the harness's report quotes the token from the credential's error")
	}
}
