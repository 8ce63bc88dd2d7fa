package assertion

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
)

// AppServiceOptions configures AppService. The zero value (or nil) reads the
// endpoint and header from the environment and asks for the system-assigned
// identity.
type AppServiceOptions struct {
	// Endpoint is the managed-identity endpoint. Empty reads IDENTITY_ENDPOINT,
	// then MSI_ENDPOINT (Functions sets both to the same value).
	Endpoint string
	// IdentityHeader is sent as X-IDENTITY-HEADER. Empty reads IDENTITY_HEADER,
	// then MSI_SECRET. It is a secret and never printed.
	IdentityHeader string

	// ClientID, ObjectID and ResourceID select a user-assigned identity (sent
	// as client_id, principal_id and mi_res_id). Set at most one; none means
	// the system-assigned identity.
	ClientID   string
	ObjectID   string
	ResourceID string

	// Resource is the audience asked for. Empty means ResourceAzurePublic;
	// use ResourceAzureUSGovernment or ResourceAzureChina in those clouds.
	Resource string

	// HTTPClient sends the requests. It is copied, never modified; the copy
	// refuses redirects. Nil means a client without proxy and a 30 s
	// per-attempt timeout.
	HTTPClient *http.Client

	// MaxRetries bounds the retries of 408, 429 and 5xx answers and transport
	// errors: 0 means 3, negative means none.
	MaxRetries int
	// MaxRetryDelay caps each wait between attempts, Retry-After included.
	// 0 means 30 s.
	MaxRetryDelay time.Duration

	// Logger receives EventAssertion entries; nil logs nothing. Pass the
	// function given to azcore/log.SetListener to see them with the SDK's.
	Logger func(event log.Event, message string)
}

// AppService returns a Source for the managed identity of an App Service or
// Functions app: GET {endpoint}?api-version=2019-08-01&resource=… with the
// X-IDENTITY-HEADER header. It does not cache; wrap it with Cached.
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
	selName, selValue, err := selector(appServiceName, [3][2]string{
		{"client_id", opts.ClientID}, {"principal_id", opts.ObjectID}, {"mi_res_id", opts.ResourceID},
	})
	if err != nil {
		return nil, err
	}
	resource := opts.Resource
	if resource == "" {
		resource = ResourceAzurePublic
	}
	m := newMSIClient(appServiceName, opts.HTTPClient, retryKnobs{opts.MaxRetries, opts.MaxRetryDelay}, 3, 500*time.Millisecond, appServiceRetryable, opts.Logger)
	m.endpoint = printable
	m.url = buildURL(u, "2019-08-01", resource, selName, selValue)
	m.header = http.Header{"X-Identity-Header": {header}}
	m.secret = header
	m.identity = identityLabel(selName, selValue)
	return &appServiceSource{m}, nil
}

// appServiceEnv resolves the endpoint and header: options first, then the
// IDENTITY_* pair, then the older MSI_* pair. The header comes from the same
// pair as the endpoint, so two platforms' values are never mixed.
func appServiceEnv(endpoint, header string) (string, string, error) {
	if endpoint == "" {
		switch {
		case os.Getenv("IDENTITY_ENDPOINT") != "":
			endpoint = os.Getenv("IDENTITY_ENDPOINT")
			if header == "" {
				header = os.Getenv("IDENTITY_HEADER")
			}
		case os.Getenv("MSI_ENDPOINT") != "":
			endpoint = os.Getenv("MSI_ENDPOINT")
			if header == "" {
				header = os.Getenv("MSI_SECRET")
			}
		default:
			return "", "", errors.New("assertion: AppService: no endpoint: set IDENTITY_ENDPOINT and IDENTITY_HEADER (or MSI_ENDPOINT and MSI_SECRET), or AppServiceOptions.Endpoint and IdentityHeader")
		}
	}
	if header == "" {
		header = os.Getenv("IDENTITY_HEADER")
	}
	if header == "" {
		header = os.Getenv("MSI_SECRET")
	}
	if header == "" {
		return "", "", errors.New("assertion: AppService: no identity header: set IDENTITY_HEADER (or MSI_SECRET) next to the endpoint, or AppServiceOptions.IdentityHeader")
	}
	return endpoint, header, nil
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
