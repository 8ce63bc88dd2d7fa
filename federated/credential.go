package federated

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/internal/backoff"
	"github.com/tenantbridge/tenantbridge/internal/refresh"
	"github.com/tenantbridge/tenantbridge/internal/tenantlist"
)

// Environment variables read by NewCredential and NewFromEnvironment. The names
// and formats are azidentity's, so one app setting serves both.
const (
	envAuthorityHost     = "AZURE_AUTHORITY_HOST"
	envAllowedTenants    = "AZURE_ADDITIONALLY_ALLOWED_TENANTS"
	envTenantID          = "AZURE_TENANT_ID"
	envClientID          = "AZURE_CLIENT_ID"
	envClientIDFunctions = "CLIENT_ID"
)

const defaultAuthorityHost = "https://login.microsoftonline.com/"

// ErrTenantNotAllowed is returned (wrapped) by [Credential.GetToken], before
// any request, when [policy.TokenRequestOptions].TenantID names a tenant the
// credential was not configured for (see [Options].AdditionallyAllowedTenants).
// Test with [errors.Is].
var ErrTenantNotAllowed = errors.New("federated: tenant not allowed")

// Options configures a [Credential]. A nil *Options and zero fields mean
// defaults.
type Options struct {
	// ClientOptions builds the azcore pipeline that sends the token request,
	// so every field means what it means in any Azure SDK client:
	//   - Cloud.ActiveDirectoryAuthorityHost selects the cloud
	//     (cloud.AzurePublic, cloud.AzureGovernment, cloud.AzureChina or a
	//     custom host). Empty means AZURE_AUTHORITY_HOST, else
	//     https://login.microsoftonline.com/. The host must use https: the
	//     request carries a credential, and azidentity refuses http authorities
	//     too.
	//   - PerCallPolicies and PerRetryPolicies see the token request.
	//   - Retry governs its retries as [policy.RetryOptions] documents:
	//     MaxRetries (default 3, -1 for none), RetryDelay, MaxRetryDelay (a
	//     longer Retry-After is not waited for: the answer is returned),
	//     TryTimeout, StatusCodes (default 408, 429, 500, 502, 503, 504) and
	//     ShouldRetry. Entra's 4xx verdicts are not in the default list.
	//   - Logging: azcore's log listener ([log.SetListener]) receives
	//     [log.EventRequest], [log.EventResponse] and [log.EventRetryPolicy]
	//     entries for the token request, with headers redacted as
	//     Logging.AllowedHeaders says. Bodies are never logged, whatever
	//     Logging.IncludeBody says: the request holds the assertion and the
	//     response the access token.
	//   - TracingProvider: a span for each token request (not for cached
	//     tokens) and one for each HTTP attempt, in namespace Microsoft.Entra
	//     as azidentity's.
	//   - Telemetry: ApplicationID prefixes the User-Agent entry
	//     azsdk-go-tenantbridge-federated/{version} ({Go version}; {OS});
	//     Disabled drops both.
	//   - Transport sends the requests. Default: an [http.Client] with a
	//     2-minute timeout that does not follow redirects (a redirect would
	//     re-post the assertion wherever Location points; Entra never redirects
	//     a token request). An *http.Client given here is copied with redirects
	//     refused for the same reason; another [policy.Transporter] is used as
	//     is. Response bodies are read up to 1 MiB; a longer one is an error.
	//   - APIVersion is ignored: the v2.0 token endpoint has none.
	azcore.ClientOptions

	// AdditionallyAllowedTenants lists the tenants, besides the one given to
	// [NewCredential], for which [policy.TokenRequestOptions].TenantID may ask
	// for a token. "*" allows any tenant. When empty,
	// AZURE_ADDITIONALLY_ALLOWED_TENANTS is used, as azidentity does: tenant
	// IDs separated by commas (documented), semicolons (azidentity's
	// separator) or whitespace, any mix.
	AdditionallyAllowedTenants []string

	// RetryFederatedCredentialPropagation retries a token request once, after a
	// short wait, when Entra answers AADSTS70021, 700211, 700212 or 700213 (no
	// matching federated identity credential) within the first few minutes of
	// the Credential's life. Entra documents that a newly created federated
	// credential can take a moment to propagate; a deployment that creates the
	// credential and starts the workload together otherwise fails its first
	// requests. Leave it off when the setup is long established: a real
	// mismatch then fails at once.
	RetryFederatedCredentialPropagation bool

	// Logger receives the Credential's own entries, under
	// [EventAuthentication]: cache misses, tokens obtained, refreshes ahead of
	// expiry, rejected assertions and retries, failures; and the
	// [assertion.EventAssertion] entries of the assertion cache that
	// [NewCredential] puts around the source. A source the caller cached
	// already ([assertion.Cached], [assertion.CachedWithOptions]) is used as
	// is, so that the credentials sharing it share one assertion, and keeps
	// the Logger the caller gave it: its entries go there, not here. nil logs
	// nothing of ours. It has the signature of [log.SetListener]'s listener:
	// pass the same function to both to see these entries next to azcore's
	// HTTP entries for the token request, which reach the azcore listener in
	// any case (see ClientOptions above). No entry contains a token or an
	// assertion. It may be called from several goroutines at once.
	Logger func(event log.Event, message string)
}

// Credential is an [azcore.TokenCredential] for a multi-tenant app
// registration that authenticates with a client assertion (workload identity
// federation).
//
// Tokens are cached per (tenant, scopes, CAE) for the Credential's lifetime and
// refreshed ahead of expiry in the background; one assertion serves every
// tenant and scope until it nears expiry. A Credential is safe for concurrent
// use; create one per app and share it. A panic while fetching a token (in the
// assertion source, a policy or the transport), in a background refresh too,
// is recovered and returned as an error to the callers waiting for that token;
// it never crashes the program.
//
// Entra can reject a cached assertion long before its exp: after the issuer
// rotates its signing keys (AADSTS700027) or when the clocks disagree
// (AADSTS700024). When Entra rejects the assertion itself (those codes,
// 7000215 and 50027), the Credential drops it from its cache and retries the
// request once with a freshly fetched one, rather than re-sending the rejected
// assertion for every tenant until it expires.
type Credential struct {
	clientID    string
	tenant      string   // default tenant
	allowed     []string // additionally allowed tenants
	allowAny    bool
	authority   string // scheme://host[/path], no trailing slash
	src         assertion.Source
	client      *azcore.Client // the pipeline and tracer of the token request
	propagation bool
	logger      func(log.Event, string)
	created     time.Time // c.now() at construction; the token cache's times are durations since then (see tokenHost.Now)
	// tokens is the token cache, one entry per cacheKey. Its background
	// refreshes, their budget and the tests' Wait live in it.
	tokens refresh.Table[cacheKey, azcore.AccessToken]

	// test hooks; NewCredential leaves clock nil (time.Now) and sets sleep.
	clock  func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error // the FIC propagation wait
	onJoin func()                                           // called when a caller joins another caller's request
}

// now reads the Credential's clock: time.Now unless a test injected one.
func (c *Credential) now() time.Time {
	if c.clock == nil {
		return time.Now()
	}
	return c.clock()
}

// NewCredential returns a [Credential] for the app clientID whose default
// tenant is tenantID, trading the assertions of src for tokens. src is wrapped
// with [assertion.CachedWithOptions] (the Credential's clock, opts.Logger), so
// it need not cache itself; if it does and implements [assertion.Invalidator],
// an assertion Entra rejects is dropped from its cache too. A src that is
// already an assertion.Cached source is not wrapped again: it is shared as it
// is, with the clock and the Logger it was given, so its entries reach the
// Logger passed to CachedWithOptions rather than opts.Logger.
func NewCredential(tenantID, clientID string, src assertion.Source, opts *Options) (*Credential, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := validTenant(tenantID); err != nil {
		return nil, err
	}
	if clientID == "" {
		return nil, errors.New("federated: client ID is empty")
	}
	if src == nil {
		return nil, errors.New("federated: assertion source is nil")
	}
	authority, err := authorityHost(opts.Cloud.ActiveDirectoryAuthorityHost)
	if err != nil {
		return nil, err
	}
	client, err := newTokenClient(opts.ClientOptions)
	if err != nil {
		return nil, err
	}
	c := &Credential{
		clientID:    clientID,
		tenant:      tenantID,
		authority:   authority,
		client:      client,
		propagation: opts.RetryFederatedCredentialPropagation,
		logger:      opts.Logger,
		sleep:       backoff.Sleep,
	}
	c.tokens.Options.Name = tokenRequestName
	allowed := opts.AdditionallyAllowedTenants
	if len(allowed) == 0 {
		if v := os.Getenv(envAllowedTenants); v != "" {
			allowed = tenantlist.Parse(v)
		}
	}
	for _, t := range allowed {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
		case t == "*":
			c.allowAny = true
		default:
			if err := validTenant(t); err != nil {
				return nil, fmt.Errorf("federated: AdditionallyAllowedTenants: %w", err)
			}
			c.allowed = append(c.allowed, t)
		}
	}
	// One assertion serves every tenant and scope. The cache reads the
	// Credential's clock (so tests move both through expiry together) and
	// reports failed assertion refreshes to the same Logger.
	c.src = assertion.CachedWithOptions(src, &assertion.CacheOptions{
		Clock:  func() time.Time { return c.now() },
		Logger: opts.Logger,
	})
	c.created = c.now()
	return c, nil
}

// NewFromEnvironment returns a [Credential] configured the way Azure hosts set
// their environment: AZURE_TENANT_ID is the default tenant, AZURE_CLIENT_ID
// (else CLIENT_ID) the multi-tenant app, and [assertion.FromEnvironment] picks
// the assertion source (App Service or Functions, Azure Arc, a workload
// identity token file, GitHub Actions, or IMDS). The source asks for the
// token-exchange audience of the credential's cloud: opts.Cloud when set,
// else AZURE_AUTHORITY_HOST's (see [assertion.FromEnvironmentWithOptions]).
func NewFromEnvironment(opts *Options) (*Credential, error) {
	tenant := os.Getenv(envTenantID)
	if tenant == "" {
		return nil, errors.New("federated: AZURE_TENANT_ID is not set; set it to the app's home tenant ID")
	}
	client := os.Getenv(envClientID)
	if client == "" {
		client = os.Getenv(envClientIDFunctions)
	}
	if client == "" {
		return nil, errors.New("federated: AZURE_CLIENT_ID (or CLIENT_ID) is not set; set it to the multi-tenant app's client ID")
	}
	// The source asks for the token-exchange audience of the cloud this
	// credential sends its token requests to (api://AzureADTokenExchangeUSGov
	// in US Government): opts.Cloud when set, else AZURE_AUTHORITY_HOST.
	var c cloud.Configuration
	if opts != nil {
		c = opts.Cloud
	}
	src, err := assertion.FromEnvironmentWithOptions(&assertion.EnvironmentOptions{Cloud: c})
	if err != nil {
		return nil, fmt.Errorf("federated: choosing an assertion source: %w", err)
	}
	return NewCredential(tenant, client, src, opts)
}

// authorityHost resolves the authority host and insists on https: the token
// request carries the assertion, which must not cross the network in clear.
func authorityHost(configured string) (string, error) {
	host := configured
	if host == "" {
		host = os.Getenv(envAuthorityHost)
	}
	if host == "" {
		host = defaultAuthorityHost
	}
	u, err := url.Parse(host)
	if err != nil {
		return "", fmt.Errorf("federated: authority host %q is not a URL: %w", host, err)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("federated: authority host %q must use https", host)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("federated: authority host %q must be https://host[:port][/path] without query, fragment or user info", host)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// validTenant allows only the characters of tenant IDs and domain names, so a
// tenant can never inject a path segment or query into the token URL.
func validTenant(t string) error {
	if t == "" {
		return errors.New("federated: tenant ID is empty")
	}
	for i := 0; i < len(t); i++ {
		b := t[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '.' || b == '-') {
			return fmt.Errorf("federated: invalid tenant ID %q: only letters, digits, '.' and '-' are allowed", t)
		}
	}
	return nil
}

// resolveTenant picks the tenant of a request: requested, or def when empty.
// It allocates nothing when the tenant is allowed.
func (c *Credential) resolveTenant(requested, def string) (string, error) {
	if requested == "" || requested == def {
		return def, nil
	}
	if err := validTenant(requested); err != nil {
		return "", err
	}
	if c.allowAny || strings.EqualFold(requested, c.tenant) || strings.EqualFold(requested, def) {
		return requested, nil
	}
	for _, t := range c.allowed {
		if strings.EqualFold(t, requested) {
			return requested, nil
		}
	}
	return "", fmt.Errorf("%w: the credential isn't configured to acquire tokens for tenant %q; "+
		"add it to Options.AdditionallyAllowedTenants or AZURE_ADDITIONALLY_ALLOWED_TENANTS, "+
		"or add \"*\" to allow any tenant", ErrTenantNotAllowed, requested)
}

// GetToken returns an access token for opts.Scopes in opts.TenantID (empty: the
// credential's tenant). A cached token is returned without a lock or an
// allocation when there is one scope; otherwise one request is made, shared by
// every concurrent caller for the same tenant, scopes and CAE setting.
// Requests with opts.Claims bypass the cache. Errors from Entra are
// [*AuthError]; a tenant not allowed is [ErrTenantNotAllowed].
func (c *Credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return c.getToken(ctx, c.tenant, opts)
}

// ForTenant returns an [azcore.TokenCredential] whose default tenant is
// tenantID; it shares this Credential's cache and assertion. Use it for
// clients that cannot set [policy.TokenRequestOptions].TenantID. tenantID must
// be allowed (see [Options].AdditionallyAllowedTenants); if it is not, the
// view's GetToken fails with [ErrTenantNotAllowed] before any request.
func (c *Credential) ForTenant(tenantID string) azcore.TokenCredential {
	return &tenantView{c: c, tenant: tenantID}
}

type tenantView struct {
	c      *Credential
	tenant string
}

// GetToken is [Credential.GetToken] with the view's tenant as the default.
func (v *tenantView) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tenant, err := v.c.resolveTenant(v.tenant, v.c.tenant)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return v.c.getToken(ctx, tenant, opts)
}

var _ azcore.TokenCredential = (*Credential)(nil)
var _ azcore.TokenCredential = (*tenantView)(nil)
