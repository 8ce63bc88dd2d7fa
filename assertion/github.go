package assertion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
	"github.com/tenantbridge/tenantbridge/internal/noredirect"
)

const gitHubName = "GitHubActions"

// The variables GitHub Actions sets in a job whose workflow has
// `permissions: id-token: write`.
const (
	EnvGitHubTokenRequestURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	EnvGitHubTokenRequestToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// GitHubActionsOptions configures [GitHubActions]. The zero value (or nil)
// reads both variables from the environment.
type GitHubActionsOptions struct {
	// RequestURL is the token request URL; empty reads
	// ACTIONS_ID_TOKEN_REQUEST_URL. It already has a query (api-version);
	// the audience is added to it.
	RequestURL string
	// RequestToken authorizes the request (Authorization: bearer …); empty
	// reads ACTIONS_ID_TOKEN_REQUEST_TOKEN. It is a secret and never printed.
	RequestToken string

	// Resource is the audience asked for (GitHub's audience parameter).
	// Empty takes the audience of Cloud, else of AZURE_AUTHORITY_HOST's
	// cloud, else [ResourceAzurePublic] (see [TokenExchangeAudience]).
	Resource string
	// Cloud is the cloud whose Entra receives the assertion; only its
	// authority host is read, to pick the audience.
	Cloud cloud.Configuration

	// Transport sends the requests; an *http.Client satisfies it. Redirects
	// are never followed, because the request carries the request token.
	// Nil means a client with a 30 s per-attempt timeout that, unlike the
	// managed-identity sources' default, honours HTTPS_PROXY: GitHub's token
	// endpoint is on the internet, and self-hosted runners often reach it
	// through a proxy.
	Transport policy.Transporter
	// MaxRetries bounds the retries of 408, 429 and 5xx answers and transport
	// errors: 0 means 3, negative means none.
	MaxRetries int
	// MaxRetryDelay caps each wait between attempts, Retry-After included.
	// 0 means 30 s.
	MaxRetryDelay time.Duration
	// Logger receives [EventAssertion] entries; nil logs nothing.
	Logger func(event log.Event, message string)
}

// GitHubActions returns a [Source] for the OIDC token of a GitHub Actions
// job: GET {ACTIONS_ID_TOKEN_REQUEST_URL}&audience=… with the header
// Authorization: bearer {ACTIONS_ID_TOKEN_REQUEST_TOKEN}, answered with
// {"value": "<jwt>"}. The JWT's issuer is https://token.actions.githubusercontent.com
// and its subject names the repository and what the job runs for, e.g.
// repo:ORG/REPO:ref:refs/heads/main or repo:ORG/REPO:environment:prod: the
// app's federated credential must name exactly that subject. The token lives
// a few minutes (its exp becomes ExpiresOn); each call asks for a new one, so
// wrap the source with [Cached].
//
// Like the managed-identity sources it retries 408, 429, 5xx and transport
// errors with capped exponential backoff, reads at most 1 MiB, never follows
// a redirect (it would carry the request token elsewhere), and never puts the
// request token or the JWT in an error.
func GitHubActions(opts *GitHubActionsOptions) (Source, error) {
	if opts == nil {
		opts = &GitHubActionsOptions{}
	}
	raw, token := opts.RequestURL, opts.RequestToken
	if raw == "" {
		raw = os.Getenv(EnvGitHubTokenRequestURL)
	}
	if token == "" {
		token = os.Getenv(EnvGitHubTokenRequestToken)
	}
	if raw == "" || token == "" {
		return nil, errors.New("assertion: GitHubActions: set ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN (GitHub sets them in jobs whose workflow has `permissions: id-token: write`), or GitHubActionsOptions.RequestURL and RequestToken")
	}
	u, printable, err := parseEndpoint(gitHubName, raw)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("audience", audienceFor(opts.Resource, opts.Cloud))
	c := *u
	c.RawQuery = q.Encode()
	m := newMSIClient(msiConfig{
		name:           gitHubName,
		transport:      opts.Transport,
		defaults:       &gitHubHTTP,
		logger:         opts.Logger,
		maxRetries:     opts.MaxRetries,
		defaultRetries: 3,
		maxDelay:       opts.MaxRetryDelay,
		baseDelay:      500 * time.Millisecond,
		retryStatus:    appServiceRetryable,
	})
	m.endpoint = printable
	m.url = c.String()
	m.header = http.Header{"Authorization": {"bearer " + token}, "Accept": {"application/json"}}
	m.secret = token
	m.identity = "audience=" + q.Get("audience")
	m.parse = parseGitHubResponse
	m.hint = gitHubHint
	return &gitHubSource{m}, nil
}

// gitHubHTTP is the default client of GitHubActions: through the proxy the
// environment names, 30 s per attempt.
var gitHubHTTP = noredirect.Defaults{Timeout: 30 * time.Second}

// parseGitHubResponse reads {"value": "<jwt>"}; ExpiresOn is the JWT's exp.
// Errors never quote the body.
func parseGitHubResponse(body []byte, _ time.Time) (Assertion, error) {
	var r struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Assertion{}, fmt.Errorf("malformed token response (%s)", jsonErrorKind(err))
	}
	tok := strings.TrimSpace(r.Value)
	if tok == "" {
		return Assertion{}, errors.New("token response has no value")
	}
	exp, err := jwtpeek.Expiry(tok)
	if err != nil {
		return Assertion{}, fmt.Errorf("token response value: %w", err)
	}
	return Assertion{Token: tok, ExpiresOn: exp}, nil
}

type gitHubSource struct{ *msiClient }

// Assertion asks GitHub for a new OIDC token.
func (s *gitHubSource) Assertion(ctx context.Context) (Assertion, error) {
	return s.fetch(ctx)
}

// String names the endpoint and audience, never the request token.
func (s *gitHubSource) String() string {
	return "assertion.GitHubActions(" + s.endpoint + ", " + s.identity + ")"
}

// GoString keeps %#v from printing the request token.
func (s *gitHubSource) GoString() string { return s.String() }

// gitHubHint names the usual cause of a refused token request.
func gitHubHint(status int) string {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return "GitHub refused the request token: ACTIONS_ID_TOKEN_REQUEST_TOKEN must be this job's (it ends with the job), and the workflow or job needs `permissions: id-token: write`"
	case http.StatusNotFound:
		return "ACTIONS_ID_TOKEN_REQUEST_URL names no token endpoint: use the variable as GitHub sets it"
	}
	return ""
}
