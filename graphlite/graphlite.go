// Package graphlite is a small Microsoft Graph client for the calls that
// workloads make with an app-only token: [Client.Get], paging with [List],
// $batch ([Client.Batch]), and [Client.Devices]. It runs on an azcore pipeline
// with [runtime.NewBearerTokenPolicy], so any [azcore.TokenCredential]
// (federated.Credential, an azidentity credential) authorizes it, and CAE
// claims challenges are handled the Azure SDK way.
//
//	client, err := graphlite.New(cred, nil)
//	for d, err := range client.Devices(ctx, &graphlite.DevicesOptions{Select: []string{"id", "displayName"}}) {
//		...
//	}
//
// To call many tenants side by side, build one client per tenant inside
// [github.com/tenantbridge/tenantbridge/fanout.Run].
package graphlite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"

	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

const (
	moduleName    = "graphlite"
	moduleVersion = "v0.1.0"

	// DefaultBaseURL is Graph's v1.0 endpoint in the public cloud.
	DefaultBaseURL = "https://graph.microsoft.com/v1.0"
	// DefaultMaxPageBytes bounds one response body (one page of a list).
	DefaultMaxPageBytes = 32 << 20
)

// Base URLs of Graph in the national clouds
// (learn.microsoft.com/graph/deployments); append "/v1.0" or "/beta".
const (
	PublicCloud          = "https://graph.microsoft.com"
	USGovernmentCloud    = "https://graph.microsoft.us"
	USGovernmentDoDCloud = "https://dod-graph.microsoft.us"
	ChinaCloud           = "https://microsoftgraph.chinacloudapi.cn"
)

const (
	defaultScope          = PublicCloud + "/.default"
	maxErrorBodyBytes     = 1 << 20
	headerClientRequestID = "client-request-id"
)

// Options configure a [Client]. nil and zero fields mean defaults.
type Options struct {
	// ClientOptions are azcore's: Transport, Retry (for transport errors and
	// 408/500/502/504; 429 and 503 are Throttle's), Logging, PerCallPolicies,
	// with the meaning they have in every Azure SDK client. Retry.MaxRetries
	// -1 turns off the throttle retries too, unless Throttle.MaxRetries is
	// set.
	azcore.ClientOptions

	// BaseURL is the Graph endpoint including the version, e.g.
	// https://graph.microsoft.com/v1.0 (the default), .../beta, or a national
	// cloud's ([USGovernmentCloud]+"/v1.0"). It must be https. The token scope is
	// the national cloud's "{host}/.default"; other hosts (a test server) use
	// the public cloud's scope unless Scope is set. Empty means the value of
	// the environment variable [EnvGraphURL] when it is set (what `fakemsi
	// exec` does), else the v1.0 endpoint of ClientOptions.Cloud's cloud
	// ([BaseURLForCloud]: [DefaultBaseURL] in the public cloud).
	BaseURL string
	// Scope overrides the token scope derived from BaseURL.
	Scope string

	// Throttle configures the retries of 429 and 503; see [ThrottleOptions].
	Throttle ThrottleOptions

	// Logger receives this package's own entries ([EventGraph]: the endpoint
	// in use and where it came from); nil logs nothing of ours. It has the
	// signature of azcore's [log.SetListener] listener: pass the same
	// function to both. No entry contains a token.
	Logger func(event log.Event, message string)

	// MaxPageBytes bounds one response body; default [DefaultMaxPageBytes].
	// A longer body fails with [ErrResponseTooLarge].
	MaxPageBytes int64

	// MaxPageElements bounds the elements of one page of a list; default
	// [DefaultMaxPageElements]. A page with more fails with
	// [ErrResponseTooLarge]: a page of tiny elements under MaxPageBytes
	// would otherwise decode into millions of values.
	MaxPageElements int
}

// Client calls Graph. It is safe for concurrent use.
type Client struct {
	pl       runtime.Pipeline
	base     *url.URL
	baseStr  string
	maxBytes int64
	// maxElements bounds the elements of one page (Options.MaxPageElements).
	maxElements int
	throttle    *throttlePolicy
}

// New returns a [Client] that authorizes its requests with tokens from cred.
// opts may be nil.
func New(cred azcore.TokenCredential, opts *Options) (*Client, error) {
	if cred == nil {
		return nil, errors.New("graphlite: New needs a credential")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	// the option, else $TENANTBRIDGE_GRAPH_URL, else the Graph of ClientOptions.Cloud
	base, err := baseURL(o.BaseURL, BaseURLForCloud(o.ClientOptions.Cloud), o.Logger)
	if err != nil {
		return nil, err
	}
	if o.Scope == "" {
		o.Scope = scopeFor(base.Host)
	}
	if o.MaxPageBytes <= 0 {
		o.MaxPageBytes = DefaultMaxPageBytes
	}
	if o.MaxPageElements <= 0 {
		o.MaxPageElements = DefaultMaxPageElements
	}
	cp := o.ClientOptions
	cp.Transport = newBoundedTransport(cp.Transport, o.MaxPageBytes, cp.Logging.IncludeBody, o.Throttle.Clock)
	cp.Retry.StatusCodes = withoutThrottleCodes(cp.Retry.StatusCodes)
	if cp.Retry.MaxRetries < 0 && o.Throttle.MaxRetries == 0 {
		// Retry.MaxRetries -1 means no retries in every Azure SDK client; a
		// throttled answer is not an exception unless Throttle says so.
		o.Throttle.MaxRetries = -1
	}
	tp := newThrottlePolicy(o.Throttle)
	pl := runtime.NewPipeline(moduleName, moduleVersion, runtime.PipelineOptions{
		AllowedHeaders: []string{headerClientRequestID, "request-id", "ConsistencyLevel", "Retry-After"},
		PerCall: []policy.Policy{
			requestIDPolicy{},
			consistencyPolicy{},
			tp,
		},
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{o.Scope}, nil)},
	}, &cp)
	return &Client{pl: pl, base: base, baseStr: base.String(), maxBytes: o.MaxPageBytes, maxElements: o.MaxPageElements, throttle: tp}, nil
}

// scopeFor maps a Graph host to its token scope.
func scopeFor(host string) string {
	for _, cloud := range []string{PublicCloud, USGovernmentCloud, USGovernmentDoDCloud, ChinaCloud} {
		if strings.EqualFold("https://"+host, cloud) {
			return cloud + "/.default"
		}
	}
	return defaultScope
}

// withoutThrottleCodes keeps azcore's retry policy away from 429 and 503,
// which the throttle policy retries with a capped Retry-After (azcore gives up
// instead when Retry-After exceeds its cap).
func withoutThrottleCodes(codes []int) []int {
	if codes == nil {
		return []int{http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout}
	}
	out := []int{}
	for _, c := range codes {
		if c != http.StatusTooManyRequests && c != http.StatusServiceUnavailable {
			out = append(out, c)
		}
	}
	return out
}

// resolve turns a path relative to the base URL ("/devices", "devices/ID")
// and a query into a URL. An absolute URL (a nextLink) is used verbatim, but
// only on the base URL's host: the request carries a token for it.
func (c *Client) resolve(path string, query url.Values) (string, error) {
	if strings.HasPrefix(path, "https://") || strings.HasPrefix(path, "http://") {
		u, err := url.Parse(path)
		if err != nil {
			return "", fmt.Errorf("graphlite: bad URL: %w", err)
		}
		if u.Scheme != c.base.Scheme || !strings.EqualFold(u.Host, c.base.Host) {
			// The link came from the network: its host enters the error clipped.
			return "", fmt.Errorf("graphlite: refusing to send a Graph token to %s (the client's host is %s)", leak.Clip(u.Scheme+"://"+u.Host, maxIDText), c.base.Host)
		}
		if len(query) > 0 {
			return "", errors.New("graphlite: a query cannot be added to an absolute URL")
		}
		return path, nil
	}
	u := c.baseStr + "/" + strings.TrimLeft(path, "/")
	if q := encodeQuery(query); q != "" {
		if strings.Contains(u, "?") {
			u += "&" + q
		} else {
			u += "?" + q
		}
	}
	return u, nil
}

// encodeQuery is url.Values.Encode but keeps the "$" of OData options
// readable, as Graph's documentation writes them.
func encodeQuery(q url.Values) string {
	return strings.ReplaceAll(q.Encode(), "%24", "$")
}

// send runs one request through the pipeline. On success the caller reads and
// closes the body; an HTTP error status becomes *Error.
func (c *Client) send(ctx context.Context, method, rawURL string, body []byte) (*http.Response, error) {
	req, err := runtime.NewRequest(ctx, method, rawURL)
	if err != nil {
		return nil, fmt.Errorf("graphlite: %s: %w", method, err)
	}
	// Bodies are streamed and bounded by the caller, not buffered by azcore.
	runtime.SkipBodyDownload(req)
	req.Raw().Header.Set("Accept", "application/json")
	if body != nil {
		if err := req.SetBody(streaming.NopCloser(bytes.NewReader(body)), "application/json"); err != nil {
			return nil, fmt.Errorf("graphlite: %s: %w", method, err)
		}
	}
	resp, err := c.pl.Do(req)
	if err != nil {
		return nil, fmt.Errorf("graphlite: %s %s: %w", method, req.Raw().URL.Path, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, newError(resp, method)
	}
	return resp, nil
}

// Get sends GET {BaseURL}/{path}?{query} and decodes the JSON response into
// out (a pointer), reading at most [Options.MaxPageBytes]. A text/plain answer (such as
// /devices/$count) decodes into *string or *int. out may be nil.
func (c *Client) Get(ctx context.Context, path string, query url.Values, out any) error {
	u, err := c.resolve(path, query)
	if err != nil {
		return err
	}
	resp, err := c.send(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	defer closeBody(resp.Body)
	body := c.readBody(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		b, err := io.ReadAll(body)
		if err != nil {
			return fmt.Errorf("graphlite: GET %s: %w", resp.Request.URL.Path, err)
		}
		switch out := out.(type) {
		case *string:
			*out = string(b)
			return nil
		case *int:
			n, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return fmt.Errorf("graphlite: GET %s: not a number: %w", resp.Request.URL.Path, err)
			}
			*out = n
			return nil
		}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, body)
	} else {
		err = json.NewDecoder(body).Decode(out)
	}
	if err != nil {
		return fmt.Errorf("graphlite: GET %s: decode response: %w", resp.Request.URL.Path, err)
	}
	return nil
}

// ErrResponseTooLarge is returned (wrapped) when a response from Graph
// exceeds [Options.MaxPageBytes]; test for it with [errors.Is]. The error
// names the limit. A body over the limit is never decoded in part. It is this
// package's own: a body limit that failed elsewhere (a token response too
// large for the credential, met while authorizing the request) does not match
// it.
var ErrResponseTooLarge = errors.New("graphlite: response larger than MaxPageBytes")

// readBody bounds a response body of Graph to MaxPageBytes: past the limit,
// a read fails with an error matching [ErrResponseTooLarge] (and naming the
// limit) instead of ending as if the body were complete.
func (c *Client) readBody(body io.Reader) io.Reader {
	return pageReader{bodylimit.NewReader(body, c.maxBytes)}
}

type pageReader struct{ r io.Reader }

func (p pageReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && errors.Is(err, bodylimit.ErrTooLarge) {
		err = fmt.Errorf("%w: %w", ErrResponseTooLarge, err)
	}
	return n, err
}

// closeBody reads what is left of a body (up to 64 KiB, so that the
// connection can be reused: a JSON decoder stops at the closing brace) and
// closes it.
func closeBody(body io.ReadCloser) {
	io.CopyN(io.Discard, body, 64<<10)
	body.Close()
}
