package assertion

import (
	"context"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// DefaultIMDSEndpoint is the link-local address of the instance metadata
// service.
const DefaultIMDSEndpoint = "http://169.254.169.254"

// IMDSOptions configures [IMDS]. The zero value (or nil) asks the default
// endpoint for the system-assigned identity.
type IMDSOptions struct {
	// Endpoint is the scheme and host of the metadata service; the token path
	// is appended. Empty reads AZURE_POD_IDENTITY_AUTHORITY_HOST (as the
	// JavaScript and .NET SDKs do), then uses [DefaultIMDSEndpoint].
	Endpoint string

	// ID selects a user-assigned identity (sent as client_id, object_id or
	// msi_res_id); nil means the system-assigned identity.
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
	// Cloud is the cloud whose Entra receives the assertion; only its
	// authority host is read, to pick the audience.
	Cloud cloud.Configuration

	// Transport sends the requests; an *http.Client satisfies it. Redirects
	// are never followed: an *http.Client is copied (never modified) with
	// redirects refused, and any other Transporter must not follow them
	// itself. Nil means a client without proxy and a 30 s per-attempt timeout.
	Transport policy.Transporter

	// MaxRetries bounds the retries of 404, 410, 429 and 5xx answers and
	// transport errors: 0 means 5, negative means none.
	MaxRetries int
	// MaxRetryDelay caps each wait between attempts, Retry-After included.
	// 0 means 30 s.
	MaxRetryDelay time.Duration

	// Logger receives [EventAssertion] entries; nil logs nothing.
	Logger func(event log.Event, message string)
}

// IMDS returns a [Source] for the managed identity of a VM, scale set or
// container host: GET {endpoint}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=…
// with the header Metadata: true. It does not cache; wrap it with [Cached].
//
// Retries follow the IMDS guidance: 404 (identity not yet propagated), 410
// (the service is updating and answers within 70 s), 429 and 5xx are retried
// with capped exponential backoff starting at 1 s, honouring a capped
// Retry-After, until MaxRetries or the context ends. A 400 "identity not
// found" is final.
func IMDS(opts *IMDSOptions) (Source, error) {
	if opts == nil {
		opts = &IMDSOptions{}
	}
	base := opts.Endpoint
	if base == "" {
		base = os.Getenv("AZURE_POD_IDENTITY_AUTHORITY_HOST")
	}
	if base == "" {
		base = DefaultIMDSEndpoint
	}
	u, _, err := parseEndpoint(imdsName, strings.TrimRight(base, "/")+"/metadata/identity/oauth2/token")
	if err != nil {
		return nil, err
	}
	_, printable, _ := parseEndpoint(imdsName, u.String())
	selName, selValue, err := resolveID(imdsName, opts.ID, queryNames{"client_id", "object_id", "msi_res_id"},
		opts.ClientID, opts.ObjectID, opts.ResourceID)
	if err != nil {
		return nil, err
	}
	resource := audienceFor(opts.Resource, opts.Cloud)
	m := newMSIClient(msiConfig{
		name:           imdsName,
		transport:      opts.Transport,
		logger:         opts.Logger,
		maxRetries:     opts.MaxRetries,
		defaultRetries: 5,
		maxDelay:       opts.MaxRetryDelay,
		baseDelay:      time.Second,
		retryStatus:    imdsRetryable,
	})
	m.endpoint = printable
	m.url = buildURL(u, "2018-02-01", resource, selName, selValue)
	m.header = http.Header{"Metadata": {"true"}}
	m.identity = identityLabel(selName, selValue)
	return &imdsSource{m}, nil
}

func imdsRetryable(status int) bool {
	switch status {
	case http.StatusNotFound, http.StatusGone, http.StatusTooManyRequests:
		return true
	}
	return status >= 500
}

type imdsSource struct{ *msiClient }

// Assertion asks the metadata service for a new assertion.
func (s *imdsSource) Assertion(ctx context.Context) (Assertion, error) {
	return s.fetch(ctx)
}

// String names the endpoint and identity.
func (s *imdsSource) String() string {
	return "assertion.IMDS(" + s.endpoint + ", " + s.identity + ")"
}

// GoString matches String.
func (s *imdsSource) GoString() string { return s.String() }
