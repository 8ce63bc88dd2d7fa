package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
)

// fakeCred mints JWTs itself; its knobs break it in one way each. Its
// tenant "forbidden" is not allowed, and in its tenant "failing" the fake
// Entra refuses the app with AADSTS700016.
type fakeCred struct {
	requests atomic.Int64
	serial   atomic.Int64
	fetching atomic.Int64 // fetches in flight
	mu       sync.Mutex   // held by the one fetch of the default token

	noCache   bool // every call is a new "request"
	ignoreCtx bool
	// stall makes every call sleep this long before it looks at its
	// context, like a source that ignores cancellation for a while.
	stall time.Duration
	// leakInError makes errors quote the last token: a deliberately broken
	// credential, so the tests can prove that the harness catches the leak
	// and that its own report redacts the token (TestCredentialReportRedactsALeakedToken).
	leakInError    bool
	ignoreTenant   bool // tid is always "home"
	lifetime       time.Duration
	expiresOnShift time.Duration // added to ExpiresOn beyond exp
	ignoreClaims   bool          // a claims challenge gets the cached token
	noMerge        bool          // concurrent cold callers each fetch
	noRefresh      bool          // the cached token is served forever, past its expiry
	refreshLate    bool          // the cached token is replaced only once it has expired
	forbiddenSent  bool          // the forbidden tenant's request reaches "the network" before it is refused
	failingPlain   bool          // the AADSTS code is only in the error's text
	failingEmpty   bool          // the failing tenant yields an empty token and no error

	last atomic.Pointer[azcore.AccessToken]
}

// aadstsError is the fake's documented error type, with the method the
// harness looks for by default.
type aadstsError struct{ code int }

func (e *aadstsError) Error() string {
	return fmt.Sprintf("fakeCred: AADSTS%d: app not consented", e.code)
}
func (e *aadstsError) HasCode(code int) bool { return code == e.code }

func (c *fakeCred) lifetimeOrDefault() time.Duration {
	if c.lifetime == 0 {
		return time.Hour
	}
	return c.lifetime
}

// cached returns the default token while it is fresh: until half its
// lifetime is left (refresh ahead), or as the broken knobs say.
func (c *fakeCred) cached() (azcore.AccessToken, bool) {
	last := c.last.Load()
	if last == nil {
		return azcore.AccessToken{}, false
	}
	refreshAt := last.ExpiresOn.Add(-c.lifetimeOrDefault() / 2)
	switch {
	case c.noRefresh:
		refreshAt = time.Now().Add(time.Hour)
	case c.refreshLate:
		refreshAt = last.ExpiresOn
	}
	return *last, time.Now().Before(refreshAt)
}

func (c *fakeCred) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	time.Sleep(c.stall)
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
	switch tenant {
	case "forbidden":
		if c.forbiddenSent {
			c.requests.Add(1)
		}
		if last := c.last.Load(); c.leakInError && last != nil {
			return azcore.AccessToken{}, fmt.Errorf("fakeCred: tenant not allowed (token %s)", last.Token)
		}
		return azcore.AccessToken{}, fmt.Errorf("fakeCred: tenant %s not allowed", tenant)
	case "failing":
		c.requests.Add(1)
		switch {
		case c.failingEmpty:
			return azcore.AccessToken{}, nil
		case c.failingPlain:
			return azcore.AccessToken{}, errors.New("fakeCred: AADSTS700016: app not consented")
		}
		return azcore.AccessToken{}, &aadstsError{700016}
	}
	cacheable := !c.noCache && !c.ignoreTenant && opts.TenantID == "" && (opts.Claims == "" || c.ignoreClaims)
	if cacheable {
		if tok, ok := c.cached(); ok {
			return tok, nil
		}
		if !c.noMerge {
			c.mu.Lock()
			defer c.mu.Unlock()
			if tok, ok := c.cached(); ok {
				return tok, nil
			}
		}
	}
	c.requests.Add(1)
	if c.noMerge {
		// A request takes a moment: wait (boundedly) until another caller
		// is fetching too, so that the overlap does not depend on timing.
		c.fetching.Add(1)
		for deadline := time.Now().Add(2 * time.Second); c.fetching.Load() < 2 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	exp := time.Now().Add(c.lifetimeOrDefault()).Truncate(time.Second)
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": "https://graph.microsoft.com", "tid": tenant, "exp": exp.Unix(), "uti": fmt.Sprint(c.serial.Add(1)),
	}).SignedString(testKey)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	tok := azcore.AccessToken{Token: s, ExpiresOn: exp.Add(c.expiresOnShift)}
	if opts.TenantID == "" && opts.Claims == "" {
		c.last.Store(&tok)
	}
	return tok, nil
}

// fakeCredOptions are the options under which a well-behaved fakeCred
// passes every check.
func fakeCredOptions(c **fakeCred) *CredentialOptions {
	return &CredentialOptions{
		Tenants:           []string{"tenant-a", "tenant-b"},
		DisallowedTenant:  "forbidden",
		ExpectCaching:     true,
		Requests:          func() int { return int((*c).requests.Load()) },
		FailingTenant:     "failing",
		FailingTenantCode: 700016,
		RequireJWT:        true,
	}
}

func TestCredentialAcceptsWellBehavedFake(t *testing.T) {
	var c *fakeCred
	TestCredential(t, func(*testing.T) azcore.TokenCredential { c = &fakeCred{}; return c }, fakeCredOptions(&c))
}

// TestCredentialRefreshAcceptsWellBehavedFake: a credential that refreshes
// at half-life passes Refresh, and CheckCredential reports nothing, not even
// a skip.
func TestCredentialRefreshAcceptsWellBehavedFake(t *testing.T) {
	t.Parallel()
	var c *fakeCred
	o := fakeCredOptions(&c)
	o.ExpectRefresh = true
	err := CheckCredential(t.Context(), func() (azcore.TokenCredential, error) { c = &fakeCred{lifetime: 3 * time.Second}; return c, nil }, o)
	if err != nil {
		t.Errorf("CheckCredential on a well-behaved credential with 3-second tokens: %v", err)
	}
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
		{"ignores its context for 2 s", &fakeCred{stall: 2 * time.Second}, "CancelledContext", "a credential must return within 1s (CancelLatency) once its context is done"},
		{"ignores its context for 2 s, mid-flight", &fakeCred{stall: 2 * time.Second}, "CancelDuringCall", "a credential must return within 1s (CancelLatency) once its context is done"},
		{"no cache", &fakeCred{noCache: true}, "Caching", "want 0 (served from the cache)"},
		{"ignores TenantID", &fakeCred{ignoreTenant: true}, "TenantSelection", "got a token whose tid is home"},
		{"disallowed tenant sent to the network", &fakeCred{forbiddenSent: true}, "TenantSelection", "must be refused before any request reaches the network"},
		{"expired token", &fakeCred{lifetime: -time.Minute}, "GetToken", "expired at"},
		{"expired token, concurrent", &fakeCred{lifetime: -time.Minute}, "Concurrent", "expired at"},
		{"ExpiresOn after exp", &fakeCred{expiresOnShift: time.Hour}, "GetToken", "ExpiresOn must not be later than exp"},
		{"claims ignored", &fakeCred{ignoreClaims: true}, "ClaimsBypassCache", "Claims must bypass the cache and request a new token"},
		{"no merge of cold callers", &fakeCred{noMerge: true}, "ConcurrentColdCallers", "concurrent cold callers for one tenant and scope must share one request"},
		{"token served past expiry", &fakeCred{lifetime: 3 * time.Second, noRefresh: true}, "Refresh", "must never serve a token past its expiry"},
		{"refreshed only once expired", &fakeCred{lifetime: 3 * time.Second, refreshLate: true}, "Refresh", "a token must be refreshed before it expires"},
		{"Entra error without its code", &fakeCred{failingPlain: true}, "EntraError", "does not carry AADSTS700016 through errors.As"},
		{"Entra error as an empty token", &fakeCred{failingEmpty: true}, "EntraError", "never as an empty token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := (&CredentialOptions{
				Tenants:           []string{"tenant-a"},
				DisallowedTenant:  "forbidden",
				ExpectCaching:     true,
				Requests:          func() int { return int(tt.cred.requests.Load()) },
				FailingTenant:     "failing",
				FailingTenantCode: 700016,
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

// TestCredentialExpiresOnTolerance: ExpiresOn may equal the JWT's exp or
// exceed it by up to ExpiresOnTolerance (1 s, exp's rounding); 2 s or a
// minute later is reported. A wider tolerance would fail here.
func TestCredentialExpiresOnTolerance(t *testing.T) {
	if ExpiresOnTolerance != time.Second {
		t.Fatalf("ExpiresOnTolerance = %s; the documented tolerance is 1s", ExpiresOnTolerance)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	tok := signJWT(t, jwt.MapClaims{"aud": "https://graph.microsoft.com", "exp": exp.Unix()})
	o := (&CredentialOptions{RequireJWT: true}).withDefaults()
	for _, tc := range []struct {
		later  time.Duration
		report bool
	}{
		{0, false}, {500 * time.Millisecond, false}, {time.Second, false},
		{1100 * time.Millisecond, true}, {2 * time.Second, true}, {60 * time.Second, true},
	} {
		errs := validateAccessTokenErrs(azcore.AccessToken{Token: tok, ExpiresOn: exp.Add(tc.later)}, &o, 0)
		if got := anyContains(errs, "later than the JWT's exp"); got != tc.report {
			t.Errorf("ExpiresOn %s after exp: reported %t (errors %q); want %t", tc.later, got, errs, tc.report)
		}
	}
	// Through the check, too: a credential whose ExpiresOn is 2 s late.
	if errs := checkCredGetToken(&fakeCred{expiresOnShift: 2 * time.Second}, &o); !anyContains(errs, "by 2s: ExpiresOn must not be later than exp") {
		t.Errorf("GetToken on a credential whose ExpiresOn is 2s after exp reported %s; want it reported", redactSecrets(fmt.Sprintf("%q", errs), nil))
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
