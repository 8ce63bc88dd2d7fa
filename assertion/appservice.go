package assertion

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// AppServiceOptions configures [AppService]. The zero value (or nil) reads the
// endpoint and header from the environment and asks for the system-assigned
// identity.
type AppServiceOptions struct {
	// Endpoint is the managed-identity endpoint. Empty reads IDENTITY_ENDPOINT
	// with IDENTITY_HEADER, else MSI_ENDPOINT with MSI_SECRET (Functions sets
	// both pairs to the same values); a pair is never mixed with the other.
	Endpoint string
	// IdentityHeader is sent as X-IDENTITY-HEADER. Empty takes the header of
	// the environment pair the endpoint came from; with an explicit Endpoint,
	// IDENTITY_HEADER, then MSI_SECRET. It is a secret and never printed.
	IdentityHeader string

	// ID selects a user-assigned identity (sent as client_id, principal_id or
	// mi_res_id); nil means the system-assigned identity.
	ID ManagedIDKind

	// Deprecated: use ID ([ClientID], [ObjectID], [ResourceID]). These are
	// still honoured; set at most one of them and ID.
	ClientID   string
	ObjectID   string
	ResourceID string

	// Resource is the audience asked for. Empty takes the audience of Cloud,
	// else of AZURE_AUTHORITY_HOST's cloud, else [ResourceAzurePublic] (see
	// [TokenExchangeAudience]).
	Resource string
	// Cloud is the cloud whose Entra receives the assertion: the same value
	// as the credential's azcore.ClientOptions.Cloud. Only its authority host
	// is read, to pick the audience.
	Cloud cloud.Configuration

	// Transport sends the requests; an *http.Client satisfies it. Redirects
	// are never followed, because the request carries the identity header: an
	// *http.Client is copied (never modified) with redirects refused, and any
	// other Transporter must not follow them itself. Nil means a client
	// without proxy and a 30 s per-attempt timeout.
	Transport policy.Transporter

	// MaxRetries bounds the retries of 408, 429 and 5xx answers and transport
	// errors: 0 means 3, negative means none.
	MaxRetries int
	// MaxRetryDelay caps each wait between attempts, Retry-After included.
	// 0 means 30 s.
	MaxRetryDelay time.Duration

	// Logger receives [EventAssertion] entries; nil logs nothing. Pass the
	// function given to [log.SetListener] to see them with the SDK's.
	Logger func(event log.Event, message string)
}

// AppService returns a [Source] for the managed identity of an App Service or
// Functions app: GET {endpoint}?api-version=2019-08-01&resource=… with the
// X-IDENTITY-HEADER header. It does not cache; wrap it with [Cached].
func AppService(opts *AppServiceOptions) (Source, error) {
	if opts == nil {
		opts = &AppServiceOptions{}
	}
	endpoint, header, err := appServiceEnv(opts.Endpoint, opts.IdentityHeader)
	if err != nil {
		return nil, err
	}
	u, printable, err := parseEndpoint(appServiceName, endpoint)
	if err != nil {
		return nil, err
	}
	selName, selValue, err := resolveID(appServiceName, opts.ID, queryNames{"client_id", "principal_id", "mi_res_id"},
		opts.ClientID, opts.ObjectID, opts.ResourceID)
	if err != nil {
		return nil, err
	}
	resource := audienceFor(opts.Resource, opts.Cloud)
	m := newMSIClient(msiConfig{
		name:           appServiceName,
		transport:      opts.Transport,
		logger:         opts.Logger,
		maxRetries:     opts.MaxRetries,
		defaultRetries: 3,
		maxDelay:       opts.MaxRetryDelay,
		baseDelay:      500 * time.Millisecond,
		retryStatus:    appServiceRetryable,
	})
	m.endpoint = printable
	m.url = buildURL(u, "2019-08-01", resource, selName, selValue)
	m.header = http.Header{"X-Identity-Header": {header}}
	m.secret = header
	m.identity = identityLabel(selName, selValue)
	return &appServiceSource{m}, nil
}

// appServiceEnv resolves the endpoint and header: options first, then the
// IDENTITY_* pair, then the older MSI_* pair. Without an Endpoint option the
// endpoint and the header come from one pair, so the two platforms' values
// are never mixed: MSI_SECRET is never sent to IDENTITY_ENDPOINT, nor
// IDENTITY_HEADER to MSI_ENDPOINT. An explicit Endpoint belongs to neither
// pair and takes the header of either.
func appServiceEnv(endpoint, header string) (string, string, error) {
	if endpoint != "" {
		for _, k := range [...]string{"IDENTITY_HEADER", "MSI_SECRET"} {
			if header == "" {
				header = os.Getenv(k)
			}
		}
		if header == "" {
			return "", "", errors.New("assertion: AppService: no identity header: set AppServiceOptions.IdentityHeader, or IDENTITY_HEADER (or MSI_SECRET)")
		}
		return endpoint, header, nil
	}
	incomplete := ""
	for _, pair := range [...]struct{ endpoint, header string }{
		{"IDENTITY_ENDPOINT", "IDENTITY_HEADER"},
		{"MSI_ENDPOINT", "MSI_SECRET"},
	} {
		e := os.Getenv(pair.endpoint)
		if e == "" {
			continue
		}
		h := header
		if h == "" {
			h = os.Getenv(pair.header)
		}
		if h != "" {
			return e, h, nil
		}
		if incomplete == "" {
			incomplete = pair.endpoint + " is set but " + pair.header + " is not"
		}
	}
	if incomplete != "" {
		return "", "", errors.New("assertion: AppService: no identity header: " + incomplete + " (the header is taken from the same pair as the endpoint), or set AppServiceOptions.IdentityHeader")
	}
	return "", "", errors.New("assertion: AppService: no endpoint: set IDENTITY_ENDPOINT and IDENTITY_HEADER (or MSI_ENDPOINT and MSI_SECRET), or AppServiceOptions.Endpoint and IdentityHeader")
}

// appServiceRetryable: 408, 429 and 5xx are transient. 404 is not: it means a
// wrong endpoint path, which no retry fixes.
func appServiceRetryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

type appServiceSource struct{ *msiClient }

// Assertion asks the endpoint for a new assertion.
func (s *appServiceSource) Assertion(ctx context.Context) (Assertion, error) {
	return s.fetch(ctx)
}

// String names the endpoint and identity, never the header.
func (s *appServiceSource) String() string {
	return "assertion.AppService(" + s.endpoint + ", " + s.identity + ")"
}

// GoString keeps %#v from printing the header.
func (s *appServiceSource) GoString() string { return s.String() }
