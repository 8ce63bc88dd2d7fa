package graphlite

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/leak"
	"github.com/tenantbridge/tenantbridge/internal/retryafter"
)

// DefaultMaxPageElements bounds the elements of one page. Graph pages hold
// at most 999 elements ($top's maximum) for most collections; the bound
// leaves room for the few that page larger.
const DefaultMaxPageElements = 10_000

// boundedTransport is the client's transport, beneath every azcore policy,
// so that what any of them reads is bounded (habit 12) and what any of them
// logs is scrubbed (habit 16):
//
//   - an error answer (status >= 400) is read at most maxErrorBodyBytes:
//     azcore's body download policy reads error bodies whole, even for a
//     request that skips the download, and its retry policy drains each
//     retried answer; past the bound the body just ends (the error fields
//     stay empty, the status still explains), so a 300 MiB 403 or 429 costs
//     at most the bound per attempt instead of its size. The bounded body is
//     read here and scrubbed of the request's bearer token and of anything
//     JWT-shaped, because azcore's logging policy prints it when
//     Logging.IncludeBody is set;
//   - any other body fails with bodylimit.ErrTooLarge past maxPage; with
//     Logging.IncludeBody (logBodies), which makes azcore's logging policy
//     read the whole body anyway, it is read and scrubbed here too;
//   - every response header value, which azcore logs when
//     Logging.AllowedHeaders names it (request-id, client-request-id and
//     Retry-After always) and *Error quotes, is clipped and scrubbed before
//     any policy sees it: a peer that echoes the token in request-id must
//     not get it into the log.
type boundedTransport struct {
	next      policy.Transporter
	maxPage   int64
	logBodies bool
	// clock is ThrottleOptions.Clock (nil: time.Now), so that an HTTP-date
	// Retry-After is turned into a delay on the clock the throttle policy
	// reads it with.
	clock func() time.Time
}

func (t boundedTransport) now() time.Time {
	if t.clock == nil {
		return time.Now()
	}
	return t.clock()
}

func (t boundedTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.next.Do(req)
	if resp == nil {
		return resp, err
	}
	token := bearerToken(req.Header.Get("Authorization"))
	for k, vs := range resp.Header {
		for i, v := range vs {
			vs[i] = leak.Clip(v, maxHeaderValue, token)
		}
		resp.Header[k] = vs
	}
	// azcore's retry policy (408, 500, 502, 504) multiplies Retry-After into
	// a time.Duration without a clamp; the throttle policy reads the same
	// value through internal/retryafter anyway.
	retryafter.Normalize(resp.Header, t.now())
	if resp.Body == nil || resp.Body == http.NoBody {
		return resp, err
	}
	if resp.StatusCode >= http.StatusBadRequest {
		// Past the bound bodylimit fails, and the bytes read so far (the
		// bound's worth) are kept: newError reports a body that long as
		// too large to decode.
		b, rerr := io.ReadAll(bodylimit.NewReader(resp.Body, maxErrorBodyBytes))
		resp.Body.Close()
		if rerr != nil && !errors.Is(rerr, bodylimit.ErrTooLarge) {
			// The error status still explains the failure.
			b = nil
		}
		resp.Body = io.NopCloser(scrubbed(b, token))
		resp.ContentLength = -1
		return resp, err
	}
	if t.logBodies {
		b, rerr := bodylimit.Read(resp.Body, t.maxPage)
		resp.Body.Close()
		if rerr != nil {
			resp.Body = io.NopCloser(errReader{rerr})
			return resp, err
		}
		resp.Body = io.NopCloser(scrubbed(b, token))
		resp.ContentLength = -1
		return resp, err
	}
	resp.Body = boundedBody{Reader: bodylimit.NewReader(resp.Body, t.maxPage), Closer: resp.Body}
	return resp, err
}

// maxHeaderValue bounds a response header value as policies and logs see
// it: room for a claims challenge in WWW-Authenticate (under 2 KiB), not for
// a payload. Error quotes them shorter (maxIDText).
const maxHeaderValue = 8 << 10

// scrubbed reads b with token (and its signature part) and JWT-shaped text
// redacted, copying b only when there is something to redact.
func scrubbed(b []byte, token string) io.Reader {
	sig := token
	if i := strings.LastIndexByte(token, '.'); i >= 0 {
		sig = token[i+1:]
	}
	if (token == "" || !bytes.Contains(b, []byte(sig))) && !leak.JWT.Match(b) {
		return bytes.NewReader(b)
	}
	return strings.NewReader(leak.Redact(string(b), token))
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type boundedBody struct {
	io.Reader
	io.Closer
}

// newBoundedTransport wraps the caller's transport, or, when there is none,
// a client configured as azcore's default one is (proxy from the
// environment, TLS 1.2 at least).
func newBoundedTransport(next policy.Transporter, maxPage int64, logBodies bool, clock func() time.Time) policy.Transporter {
	if hc, ok := next.(*http.Client); next == nil || ok && hc == nil {
		next = defaultClient()
	}
	return boundedTransport{next: next, maxPage: maxPage, logBodies: logBodies, clock: clock}
}

func defaultClient() *http.Client {
	dt, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return &http.Client{}
	}
	tr := dt.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.MinVersion = max(tr.TLSClientConfig.MinVersion, tls.VersionTLS12)
	return &http.Client{Transport: tr}
}

// bearerToken is the token of an Authorization header, or "".
func bearerToken(authz string) string {
	tok, _ := strings.CutPrefix(authz, "Bearer ")
	if tok == authz {
		return ""
	}
	return tok
}

// maxInnerErrorBytes bounds Error.InnerError: Graph's holds a date and two
// IDs, about 150 bytes.
const maxInnerErrorBytes = 4 << 10

// scrubInnerError returns Graph's innerError fit to keep in an error (habit
// 16): every string in it through leak.Clip (the bearer token, anything
// JWT-shaped, control characters), re-encoded; nil when it is not JSON or
// is larger than maxInnerErrorBytes once scrubbed.
func scrubInnerError(raw json.RawMessage, token string) json.RawMessage {
	if len(raw) == 0 || len(raw) > maxErrorBodyBytes {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	out, err := json.Marshal(scrubJSON(v, token))
	if err != nil || len(out) > maxInnerErrorBytes {
		return nil
	}
	return out
}

func scrubJSON(v any, token string) any {
	switch v := v.(type) {
	case string:
		return leak.Clip(v, maxMessageText, token)
	case []any:
		for i := range v {
			v[i] = scrubJSON(v[i], token)
		}
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[leak.Clip(k, maxIDText, token)] = scrubJSON(x, token)
		}
		return m
	}
	return v
}

// errTooManyElements is a page with more elements than the client allows.
func errTooManyElements(limit int) error {
	return fmt.Errorf("%w: more than %d elements in one page (MaxPageElements)", ErrResponseTooLarge, limit)
}

// decodeArray reads a JSON object from r and decodes the array under key
// into *dst element by element, at most limit of them: a document of
// millions of tiny elements under MaxPageBytes fails before it costs one
// value each. Other members are skipped.
func decodeArray[T any](r io.Reader, key string, dst *[]T, limit int) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if tok != key {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		if err := expectDelim(dec, '['); err != nil {
			return err
		}
		var zero T
		for dec.More() {
			if len(*dst) >= limit {
				return fmt.Errorf("%w: more than %d %s", ErrResponseTooLarge, limit, key)
			}
			*dst = append(*dst, zero)
			if err := dec.Decode(&(*dst)[len(*dst)-1]); err != nil {
				return err
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return err
		}
	}
	return expectDelim(dec, '}')
}

// scrubBatchError removes the batch request's bearer token (and anything
// JWT-shaped) from a failed response inside a $batch answer, whose Err
// quotes it like any *Error: the transport scrubs the answers of
// failed requests, but a $batch answer is a success holding failures.
func scrubBatchError(r *BatchResponse, batch *http.Response) {
	var token string
	if batch.Request != nil {
		token = bearerToken(batch.Request.Header.Get("Authorization"))
	}
	if len(r.Body) > 0 {
		r.Body = json.RawMessage(leak.Redact(string(r.Body), token))
	}
	for k, v := range r.Headers {
		r.Headers[k] = leak.Clip(v, maxHeaderValue, token)
	}
}
