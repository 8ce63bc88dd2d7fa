package assertion

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/tenantbridge/tenantbridge/internal/backoff"
	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/noredirect"
	"github.com/tenantbridge/tenantbridge/internal/retryafter"
)

// Resource values (the audience of the assertion) that Entra accepts for
// workload identity federation, per cloud. Use the one of the cloud whose
// Entra will receive the assertion.
const (
	ResourceAzurePublic       = "api://AzureADTokenExchange"
	ResourceAzureUSGovernment = "api://AzureADTokenExchangeUSGov"
	ResourceAzureChina        = "api://AzureADTokenExchangeChina"
)

// EventAssertion is the log event of this package's entries: retries and
// failures of managed-identity requests, never a token or header value.
const EventAssertion log.Event = "Assertion"

// maxResponseBytes bounds every managed-identity response we read; a token
// response is a few kilobytes.
const maxResponseBytes = 1 << 20

// msiHTTP describes the client the sources send with when the caller gave no
// transport. Every client they send with refuses redirects, whatever the
// transport: a redirect would carry the identity header to whatever host it
// names. Without a transport, the requests also bypass HTTP_PROXY, because a
// managed-identity endpoint is always local to the host, and one attempt is
// bounded to 30 seconds, so a silent endpoint cannot hang a caller whose
// context has no deadline. Any [policy.Transporter] other than an
// *http.Client becomes the transport of such a client.
var msiHTTP = noredirect.Defaults{Timeout: 30 * time.Second, Direct: true}

const (
	appServiceName = "AppService"
	imdsName       = "IMDS"
	systemAssigned = "system-assigned"
)

// msiClient is the request/retry/parse loop shared by the HTTP sources.
type msiClient struct {
	name     string      // protocol, for errors and logs
	endpoint string      // scheme://host/path, for String and errors
	url      string      // the full request URL; holds no secret
	header   http.Header // holds the identity header for App Service
	secret   string      // the identity header value, scrubbed from server text
	identity string      // "client_id=…" or systemAssigned

	http        *retryablehttp.Client
	retryStatus func(status int) bool
	baseDelay   time.Duration
	maxDelay    time.Duration
	logger      func(log.Event, string)
	now         func() time.Time
	// wait receives each computed retry delay and returns the one to sleep.
	// Tests replace it to record delays without waiting.
	wait func(time.Duration) time.Duration

	// parse reads a success body; nil means the managed-identity token
	// response (parseTokenResponse).
	parse func(body []byte, now time.Time) (Assertion, error)
	// challenge, when set, answers a 401: it returns the headers (and the
	// secret they hold, to scrub from server text) with which the request is
	// made once more. Azure Arc's key-file handshake.
	challenge func(resp *http.Response) (extra http.Header, secret string, err error)
	// hint, when set, gives a protocol's own hint for a failed status ("" keeps
	// the managed-identity one).
	hint func(status int) string
}

// msiConfig is what the HTTP sources pass to [newMSIClient]: their options
// and the parts of the protocol that differ between them.
type msiConfig struct {
	name      string             // protocol, for errors and logs
	transport policy.Transporter // the caller's Transport option; nil means the default client
	// defaults describe the default client; zero means msiHTTP (no proxy).
	defaults *noredirect.Defaults
	logger   func(log.Event, string)

	maxRetries     int           // the caller's MaxRetries: 0 means defaultRetries, negative none
	defaultRetries int           // the protocol's retry count
	maxDelay       time.Duration // the caller's MaxRetryDelay: 0 means 30 s
	baseDelay      time.Duration // the first backoff delay, doubled per attempt
	retryStatus    func(status int) bool
}

func newMSIClient(c msiConfig) *msiClient {
	m := &msiClient{
		name:        c.name,
		retryStatus: c.retryStatus,
		baseDelay:   c.baseDelay,
		maxDelay:    c.maxDelay,
		logger:      c.logger,
		now:         time.Now,
		wait:        func(d time.Duration) time.Duration { return d },
	}
	if m.maxDelay <= 0 {
		m.maxDelay = 30 * time.Second
	}
	retries := c.maxRetries
	switch {
	case retries == 0:
		retries = c.defaultRetries
	case retries < 0:
		retries = 0
	}
	m.http = &retryablehttp.Client{
		HTTPClient: noredirect.Client(c.transport, defaultsOr(c.defaults)),
		// A nil Logger silences go-retryablehttp, whose default logger would
		// print request URLs to stderr; we log through m.logger instead.
		Logger:       nil,
		RetryMax:     retries,
		RetryWaitMin: c.baseDelay,
		RetryWaitMax: m.maxDelay,
		CheckRetry:   m.checkRetry,
		Backoff:      m.backoff,
		// Hand back the last response so a failure becomes a ResponseError
		// with the server's own error fields.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return m
}

// checkRetry decides whether to try again. The context comes first: a caller
// who gave up gets its own error, not another attempt.
func (m *msiClient) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	if err != nil {
		// A refused connection means nothing listens there (not on Azure, or
		// the identity is not enabled); retrying only delays the answer.
		return !errors.Is(err, syscall.ECONNREFUSED), nil
	}
	return m.retryStatus(resp.StatusCode), nil
}

// backoff doubles baseDelay per attempt up to maxDelay. A Retry-After header
// (or Retry-After-Ms) wins but is capped at maxDelay too: go-retryablehttp's
// default honours any value, so one bad header could park a caller for hours.
// Backoff gets no context; checkRetry has already refused to continue for an
// ended one, and go-retryablehttp's wait selects on the request's context, so
// a caller who gives up mid-wait returns at once.
func (m *msiClient) backoff(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
	d := backoff.Exponential(attempt, m.baseDelay, m.maxDelay)
	status := "a transport error"
	if resp != nil {
		status = "status " + strconv.Itoa(resp.StatusCode)
		if ra, ok := retryafter.Capped(resp.Header, m.now(), m.maxDelay); ok {
			d = ra
		}
	}
	m.log(fmt.Sprintf("%s: attempt %d got %s; retrying in %s", m.name, attempt+1, status, d))
	return m.wait(d)
}

func (m *msiClient) log(msg string) {
	if m.logger != nil {
		m.logger(EventAssertion, msg)
	}
}

// fetch makes the request, with retries, and turns the answer into an
// Assertion or an error that never contains a token or the identity header.
func (m *msiClient) fetch(ctx context.Context) (Assertion, error) {
	resp, err := m.send(ctx, nil)
	if err != nil {
		return Assertion{}, err
	}
	secret := m.secret
	if resp.StatusCode == http.StatusUnauthorized && m.challenge != nil {
		extra, s, err := m.challenge(resp)
		resp.Body.Close()
		if err != nil {
			m.log(err.Error())
			return Assertion{}, err
		}
		secret = s
		if resp, err = m.send(ctx, extra); err != nil {
			return Assertion{}, err
		}
	}
	defer resp.Body.Close()
	body, err := bodylimit.Read(resp.Body, maxResponseBytes)
	if err != nil {
		return Assertion{}, fmt.Errorf("assertion: %s: reading the response of GET %s (status %d): %w", m.name, m.endpoint, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		re := newResponseError(m.name, resp.StatusCode, body, m.identity, secret)
		if m.hint != nil {
			if h := m.hint(resp.StatusCode); h != "" {
				re.Hint = h
			}
		}
		m.log(re.Error())
		return Assertion{}, re
	}
	parse := m.parse
	if parse == nil {
		parse = parseTokenResponse
	}
	a, err := parse(body, m.now())
	if err != nil {
		return Assertion{}, fmt.Errorf("assertion: %s: %w", m.name, err)
	}
	return a, nil
}

// send makes the request with the protocol's headers and extra, retrying as
// the protocol says. A nil error means a response whose body the caller
// closes.
func (m *msiClient) send(ctx context.Context, extra http.Header) (*http.Response, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return nil, fmt.Errorf("assertion: %s: %w", m.name, err)
	}
	for k, v := range m.header {
		req.Header[k] = v
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := m.http.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		hint := ""
		if errors.Is(err, syscall.ECONNREFUSED) {
			hint = " (endpoint unreachable: not running on Azure, or the managed identity is not enabled here?)"
		}
		m.log(fmt.Sprintf("%s: GET %s failed: %v", m.name, m.endpoint, err))
		return nil, fmt.Errorf("assertion: %s: GET %s%s: %w", m.name, m.endpoint, hint, err)
	}
	return resp, nil
}

// parseEndpoint checks that an endpoint is an absolute http(s) URL and returns
// it with its printable form (no user info, no query).
func parseEndpoint(source, raw string) (*url.URL, string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", fmt.Errorf("assertion: %s: endpoint must be an absolute http(s) URL", source)
	}
	printable := u.Scheme + "://" + u.Host + u.EscapedPath()
	return u, printable, nil
}

// buildURL adds the protocol's query to endpoint, keeping any query it has.
func buildURL(u *url.URL, apiVersion, resource, selName, selValue string) string {
	q := u.Query()
	q.Set("api-version", apiVersion)
	q.Set("resource", resource)
	if selName != "" {
		q.Set(selName, selValue)
	}
	c := *u
	c.RawQuery = q.Encode()
	return c.String()
}

func identityLabel(name, value string) string {
	if name == "" {
		return systemAssigned
	}
	return name + "=" + value
}

func defaultsOr(d *noredirect.Defaults) noredirect.Defaults {
	if d == nil {
		return msiHTTP
	}
	return *d
}
