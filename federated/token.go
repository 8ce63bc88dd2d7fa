package federated

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
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/leak"
	"github.com/tenantbridge/tenantbridge/internal/noredirect"
	"github.com/tenantbridge/tenantbridge/internal/retryafter"
)

// The token request's azcore identity: the telemetry policy turns it into
// the User-Agent entry azsdk-go-tenantbridge-federated/v0.1.0, and the
// tracing provider names the tracer after it.
const (
	moduleName    = "tenantbridge-federated"
	moduleVersion = "v0.1.0"

	// traceNamespace is the az.namespace of the spans, azidentity's value for
	// requests to Microsoft Entra.
	traceNamespace = "Microsoft.Entra"
	// spanGetToken names the span of one token request (cached tokens make
	// none), as azidentity names its credentials' spans.
	spanGetToken = "Credential.GetToken"
)

// maxResponseBytes bounds what is read of a token endpoint response; real
// ones are a few kilobytes.
const maxResponseBytes = 1 << 20

// tokenHTTP is the client the token request is sent with when the caller
// gave no transport, or gave an *http.Client (copied): redirects refused (a
// redirect would re-post the assertion wherever Location points, and Entra
// never redirects a token request; the 3xx answer becomes an *AuthError),
// and a 2-minute bound on one attempt, reading the response included. Unlike
// a managed-identity request, the token request may go through a proxy.
var tokenHTTP = noredirect.Defaults{Timeout: 2 * time.Minute}

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// newTokenClient builds the azcore client (pipeline and tracer) of the token
// request from the caller's ClientOptions, as azidentity's credentials do.
func newTokenClient(o azcore.ClientOptions) (*azcore.Client, error) {
	// The request body holds the assertion and the response body the access
	// token: the logging policy may log headers (redacted) but never bodies.
	o.Logging.IncludeBody = false
	// The v2.0 token endpoint has no API version; a ClientOptions shared
	// with a service client that sets one must not make azcore fail every
	// token request.
	o.APIVersion = ""
	// Another Transporter than an *http.Client is the caller's
	// responsibility, used as is.
	o.Transport = boundedTransport{next: noredirect.Transport(o.Transport, tokenHTTP)}
	client, err := azcore.NewClient(moduleName, moduleVersion, runtime.PipelineOptions{
		Tracing: runtime.TracingOptions{Namespace: traceNamespace},
	}, &o)
	if err != nil {
		return nil, fmt.Errorf("federated: building the token request pipeline: %w", err)
	}
	return client, nil
}

// boundedTransport makes every response body fail once it exceeds
// maxResponseBytes. It sits below azcore's body download policy, which reads
// a body whole (error bodies always, even when a request skips the download),
// and below the retry policy's drain of a retried answer: bounding the body
// here bounds what any of them reads.
type boundedTransport struct{ next policy.Transporter }

func (t boundedTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.next.Do(req)
	if resp == nil {
		return resp, err
	}
	// Every response header is network text that azcore's logging policy
	// may print (Logging.AllowedHeaders) and an *AuthError may quote: each
	// value is clipped and scrubbed of the assertion this request carried
	// (and its signature part) before any policy sees it (habit 16).
	assertionToken, _ := req.Context().Value(assertionKey{}).(string)
	for k, vs := range resp.Header {
		for i, v := range vs {
			vs[i] = leak.Clip(v, maxHeaderValue, assertionToken)
		}
		resp.Header[k] = vs
	}
	// azcore's retry policy multiplies Retry-After into a time.Duration
	// without a clamp (18446744074 seconds wraps to 290 ms): it gets the
	// value internal/retryafter reads, clamped, or none.
	retryafter.Normalize(resp.Header, time.Now())
	if resp.Body != nil {
		resp.Body = boundedBody{Reader: bodylimit.NewReader(resp.Body, maxResponseBytes), Closer: resp.Body}
	}
	return resp, err
}

// maxHeaderValue bounds a response header value as policies and logs see it;
// Entra's are IDs and dates.
const maxHeaderValue = 1 << 10

// assertionKey is the context key under which post hands the request's
// assertion to boundedTransport, which scrubs it from the response headers.
type assertionKey struct{}

type boundedBody struct {
	io.Reader
	io.Closer
}

// tokenResponse is the token endpoint's success body. Entra sends the numbers
// as JSON numbers; some proxies and emulators send strings, so both are read.
type tokenResponse struct {
	AccessToken string      `json:"access_token"`
	TokenType   string      `json:"token_type"`
	ExpiresIn   json.Number `json:"expires_in"`
	RefreshIn   json.Number `json:"refresh_in"`
}

// fetch obtains a new token for key with one POST to the tenant's token
// endpoint: the pipeline retries it as Options.Retry says, and the loop here
// tries once more when Entra's answer says another attempt can succeed (see
// retry.go). claims is a claims challenge, or "".
func (c *Credential) fetch(ctx context.Context, key cacheKey, claims string) (tok azcore.AccessToken, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, spanGetToken, c.client.Tracer(), nil)
	defer func() { endSpan(err) }()

	claimsParam, err := requestClaims(key.cae, claims)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	a, err := c.src.Assertion(ctx)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("federated: getting the client assertion: %w", err)
	}
	endpoint := c.authority + "/" + key.tenant + "/oauth2/v2.0/token"
	start := c.now()
	var refetched, waited bool // each recovery at most once per token
	for {
		sent := c.now()
		res, err := c.post(context.WithValue(ctx, assertionKey{}, a.Token), endpoint, tokenForm(c.clientID, key.scope, claimsParam, a.Token))
		if err != nil {
			if res != nil { // the context ended while azcore waited to retry this answer
				return azcore.AccessToken{}, errors.Join(newAuthError(res, c, key, a.Token), err)
			}
			c.logf("federated: token request for tenant %s scope %s failed: %v", key.tenant, key.scope, err)
			return azcore.AccessToken{}, err
		}
		if res.status == http.StatusOK {
			tok, err := parseToken(res.body, sent)
			if err != nil {
				return azcore.AccessToken{}, fmt.Errorf("federated: token response from %s: %w", endpoint, err)
			}
			c.logf("federated: got token for tenant %s scope %s (CAE %t, claims %t); took %s, expires %s, refresh at %s",
				key.tenant, key.scope, key.cae, claims != "", c.now().Sub(start),
				tok.ExpiresOn.UTC().Format(time.RFC3339), tok.RefreshOn.UTC().Format(time.RFC3339))
			return tok, nil
		}
		authErr := newAuthError(res, c, key, a.Token)
		switch {
		case !refetched && authErr.rejectsAssertion():
			refetched = true
			if a, err = c.replaceAssertion(ctx, key, authErr, a.Token); err != nil {
				return azcore.AccessToken{}, err
			}
		case !waited && c.mayBePropagating(authErr):
			waited = true
			if err := c.awaitPropagation(ctx, key, authErr); err != nil {
				return azcore.AccessToken{}, err
			}
		default:
			c.logf("federated: token request for tenant %s scope %s failed: %v", key.tenant, key.scope, authErr)
			return azcore.AccessToken{}, authErr
		}
	}
}

// tokenForm is the client credentials request with a client assertion
// (Entra: "Microsoft identity platform and the OAuth 2.0 client credentials
// flow", second case). claims is the claims parameter, or "".
func tokenForm(clientID, scope, claims, assertion string) url.Values {
	form := url.Values{
		"client_id":             {clientID},
		"scope":                 {scope},
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {jwtBearer},
		"client_assertion":      {assertion},
	}
	if claims != "" {
		form.Set("claims", claims)
	}
	return form
}

// httpResult is what fetch needs of a response, read and closed.
type httpResult struct {
	status int
	header http.Header
	body   []byte
}

// post sends form through the pipeline. On an error it returns the last
// answer too when there is one (the context ended while the retry policy
// waited to repeat it), so that the caller can say what Entra answered.
func (c *Credential) post(ctx context.Context, endpoint string, form url.Values) (*httpResult, error) {
	req, err := runtime.NewRequest(ctx, http.MethodPost, endpoint)
	if err != nil {
		return nil, fmt.Errorf("federated: token request to %s: %w", endpoint, err)
	}
	// A seekable body: the retry policy rewinds it for each attempt.
	if err := req.SetBody(streaming.NopCloser(strings.NewReader(form.Encode())), "application/x-www-form-urlencoded"); err != nil {
		return nil, fmt.Errorf("federated: token request to %s: %w", endpoint, err)
	}
	req.Raw().Header.Set("Accept", "application/json")
	resp, err := c.client.Pipeline().Do(req)
	var res *httpResult
	if resp != nil {
		// The body download policy has read the body (bounded by
		// boundedTransport) unless it failed; Payload then fails too.
		if body, perr := runtime.Payload(resp); perr == nil {
			res = &httpResult{status: resp.StatusCode, header: resp.Header, body: body}
		} else if err == nil {
			err = perr
		}
	}
	if err == nil && res == nil {
		err = errors.New("no response") // a custom policy or transport returned neither
	}
	if err != nil {
		if res != nil && res.status == http.StatusOK {
			res = nil // a token no one will use
		}
		return res, fmt.Errorf("federated: token request to %s: %w", endpoint, scrubURLError(err))
	}
	return res, nil
}

// scrubURLError drops url.Error's repetition of the method and URL (post
// names the endpoint itself) and keeps the cause for errors.Is/As.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// maxNumberText bounds how much of a number from a token response an error
// quotes: a valid JSON number can be megabytes long.
const maxNumberText = 64

// parseToken reads a success body. now is when the request was sent, so the
// computed expiry errs early.
func parseToken(body []byte, now time.Time) (azcore.AccessToken, error) {
	var tr tokenResponse
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&tr); err != nil {
		return azcore.AccessToken{}, fmt.Errorf("body is not a token response (%d bytes)", len(body))
	}
	if tr.AccessToken == "" {
		return azcore.AccessToken{}, errors.New("no access_token in the response")
	}
	expiresIn, err := seconds(tr.ExpiresIn)
	if err != nil || expiresIn <= 0 {
		return azcore.AccessToken{}, fmt.Errorf("invalid expires_in %q", leak.Clip(tr.ExpiresIn.String(), maxNumberText))
	}
	var refreshIn time.Duration
	if tr.RefreshIn != "" {
		if refreshIn, err = seconds(tr.RefreshIn); err != nil {
			return azcore.AccessToken{}, fmt.Errorf("invalid refresh_in %q", leak.Clip(tr.RefreshIn.String(), maxNumberText))
		}
	}
	return azcore.AccessToken{
		Token:     tr.AccessToken,
		ExpiresOn: now.Add(expiresIn),
		RefreshOn: refreshOn(now, expiresIn, refreshIn),
	}, nil
}

// seconds reads a whole number of seconds, clamped to maxExpiresIn before it
// is multiplied, so that no value can overflow into a short or negative
// duration. A negative number stays negative (the callers refuse it or ignore
// it); a number beyond int64 is an error.
func seconds(n json.Number) (time.Duration, error) {
	s, err := strconv.ParseInt(strings.TrimSpace(n.String()), 10, 64)
	if err != nil {
		return 0, err
	}
	if s > int64(maxExpiresIn/time.Second) {
		return maxExpiresIn, nil
	}
	if s < 0 {
		return -1, nil
	}
	return time.Duration(s) * time.Second, nil
}

// maxExpiresIn bounds the lifetime read from expires_in (and refresh_in):
// Entra's access tokens live 60 to 90 minutes, CAE tokens up to 28 hours. A
// larger value, from a proxy or a broken emulator, is clamped before it is
// multiplied into a time.Duration, which 10000000000 seconds overflows.
const maxExpiresIn = 30 * time.Hour
