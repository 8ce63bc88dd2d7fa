package faultmatrix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// Links of the chain, the matrix's columns.
const (
	linkMSI   = "managed identity"
	linkEntra = "Entra token"
	linkGraph = "Graph"
)

// outcome is what a cell must end with.
type outcome struct {
	text  string                        // for docs/reliability.md
	check func(n int, err error) string // "" when met, else what is wrong
}

func listed() outcome {
	return outcome{"devices listed", func(n int, err error) string {
		if err != nil || n == 0 {
			return fmt.Sprintf("got %d devices, %v; want devices", n, leak.Redact(fmt.Sprint(err)))
		}
		return ""
	}}
}

// typed wants an error of type T (errors.As) for which match holds.
func typed[T error](text string, match func(T) bool) outcome {
	return outcome{text, func(n int, err error) string {
		if e, ok := errorsAs[T](err); !ok || !match(e) {
			return fmt.Sprintf("got %v; want %s", leak.Redact(fmt.Sprint(err)), text)
		}
		return ""
	}}
}

func status[T interface {
	error
	comparable
}](code int, get func(T) int) func(T) bool {
	return func(e T) bool { return get(e) == code }
}

func msiStatus(code int) outcome {
	return typed(fmt.Sprintf("*assertion.ResponseError %d", code), status(code, func(e *assertion.ResponseError) int { return e.StatusCode }))
}

func entraStatus(code int) outcome {
	return typed(fmt.Sprintf("*federated.AuthError %d", code), status(code, func(e *federated.AuthError) int { return e.StatusCode }))
}

func graphStatus(code int) outcome {
	return typed(fmt.Sprintf("*graphlite.Error %d", code), status(code, func(e *graphlite.Error) int { return e.StatusCode }))
}

// is wants errors.Is(err, target) and the text to name the cause.
func is(target error, text, names string) outcome {
	return outcome{text, func(n int, err error) string {
		if !errors.Is(err, target) || !strings.Contains(err.Error(), names) {
			return fmt.Sprintf("got %v; want %s naming %q", leak.Redact(fmt.Sprint(err)), text, names)
		}
		return ""
	}}
}

// says wants an error whose text names the cause.
func says(text string, names ...string) outcome {
	return outcome{text, func(n int, err error) string {
		if err == nil {
			return fmt.Sprintf("got %d devices and no error; want %s", n, text)
		}
		for _, s := range names {
			if strings.Contains(err.Error(), s) {
				return ""
			}
		}
		return fmt.Sprintf("got %v; want %s naming one of %q", leak.Redact(err.Error()), text, names)
	}}
}

// cell is one fault on one link.
type cell struct {
	row, link string
	// emu, when set, gives the cell an emulator of its own with these options.
	emu *emulator.Options
	// setup scripts the fault (and starts hostile servers); it returns where
	// the chain's links go.
	setup func(t *testing.T, emu *emulator.Emulator) chainOptions
	// run drives the chain; nil lists devices within a 20 s deadline.
	run  func(t *testing.T, ch *chain, emu *emulator.Emulator) (int, error)
	want outcome
	// after checks more (a hostile server's record), after the outcome.
	after func(t *testing.T, ch *chain)
}

func fault(f emulator.Fault) func(*testing.T, *emulator.Emulator) chainOptions {
	return func(t *testing.T, emu *emulator.Emulator) chainOptions {
		emu.AddFault(f)
		return chainOptions{}
	}
}

// endpointOf names the emulator endpoint of a link.
func endpointOf(link string) string {
	switch link {
	case linkMSI:
		return "appservice"
	case linkEntra:
		return "token"
	}
	return "graph"
}

// hugeBody streams n bytes of a JSON string value after prefix, from a
// reused buffer, until the client stops reading.
func hugeBody(w io.Writer, prefix string, n int64) {
	io.WriteString(w, prefix)
	chunk := []byte(strings.Repeat("x", 64<<10))
	for sent := int64(0); sent < n; sent += int64(len(chunk)) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
	io.WriteString(w, `"}`)
}

// redirector answers every request with a redirect to http://localhost:port
// of a second server (another host name than 127.0.0.1), which records what
// reached it.
type redirector struct {
	from, to *httptest.Server
	reached  atomic.Int32
	secrets  atomic.Int32 // requests that carried a credential
}

func newRedirector(t *testing.T, tlsFrom bool) *redirector {
	r := &redirector{}
	r.to = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.reached.Add(1)
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if req.Header.Get("Authorization") != "" || req.Header.Get("X-Identity-Header") != "" || strings.Contains(string(body), "client_assertion") {
			r.secrets.Add(1)
		}
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":"InvalidAuthenticationToken","message":"no token"}}`)
	}))
	t.Cleanup(r.to.Close)
	target := "http://localhost:" + r.to.URL[strings.LastIndexByte(r.to.URL, ':')+1:]
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, target+req.URL.Path, http.StatusTemporaryRedirect)
	})
	if tlsFrom {
		r.from = httptest.NewTLSServer(h)
	} else {
		r.from = httptest.NewServer(h)
	}
	t.Cleanup(r.from.Close)
	return r
}

func (r *redirector) noCredentialLeft(t *testing.T, _ *chain) {
	if n := r.secrets.Load(); n != 0 {
		t.Errorf("%d request(s) carried a credential to the redirect's target", n)
	}
}

// hostile serves fn over TLS (or plain HTTP for the managed-identity link).
func hostile(t *testing.T, tlsOn bool, fn http.HandlerFunc) *httptest.Server {
	var s *httptest.Server
	if tlsOn {
		s = httptest.NewTLSServer(fn)
	} else {
		s = httptest.NewServer(fn)
	}
	t.Cleanup(s.Close)
	return s
}

func cells() []cell {
	var cs []cell
	add := func(c cell) { cs = append(cs, c) }

	// Managed-identity warm-up (IMDS answers 410 while it updates).
	add(cell{row: "MI 410 warm-up (2 answers)", link: linkMSI,
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions {
			emu.AddFault(emulator.Fault{Endpoint: "imds", Status: 410, Count: 2})
			return chainOptions{imds: true}
		}, want: listed()})
	add(cell{row: "MI 410 warm-up (longer than the retries)", link: linkMSI,
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions {
			emu.IDP().WarmUpIMDS(time.Hour)
			return chainOptions{imds: true}
		}, want: msiStatus(410)})

	for _, link := range []string{linkMSI, linkEntra, linkGraph} {
		ep := endpointOf(link)
		add(cell{row: "429, Retry-After 1 s", link: link,
			setup: fault(emulator.Fault{Endpoint: ep, Status: 429, RetryAfter: time.Second, Count: 1}), want: listed()})
	}
	absurd := http.Header{"Retry-After": {"99999999999"}}
	add(cell{row: "429, Retry-After 99999999999 s", link: linkMSI,
		setup: fault(emulator.Fault{Endpoint: "appservice", Status: 429, Header: absurd, Count: 1}), want: listed()})
	add(cell{row: "429, Retry-After 1 day", link: linkEntra,
		setup: fault(emulator.Fault{Endpoint: "token", Status: 429, Header: http.Header{"Retry-After": {"86400"}}, Count: 1}), want: entraStatus(429)})
	add(cell{row: "429, Retry-After 99999999999 s", link: linkGraph,
		setup: fault(emulator.Fault{Endpoint: "graph", Status: 429, Header: absurd, Count: 1}), want: listed(),
		after: func(t *testing.T, ch *chain) {
			if d := time.Duration(ch.maxWait.Load()); d != time.Minute {
				t.Errorf("the throttle wait was %v, want it capped at 1m", d)
			}
		}})
	add(cell{row: "429, Retry-After-Ms -1 and overflow", link: linkGraph,
		setup: fault(emulator.Fault{Endpoint: "graph", Status: 429, Header: http.Header{"Retry-After-Ms": {"-1"}, "X-Ms-Retry-After-Ms": {"99999999999999999999"}}, Count: 1}), want: listed(),
		after: func(t *testing.T, ch *chain) {
			if d := time.Duration(ch.maxWait.Load()); d != time.Minute {
				t.Errorf("the throttle wait was %v, want the overflow capped at 1m (not a 0 s wait)", d)
			}
		}})

	for _, link := range []string{linkMSI, linkEntra, linkGraph} {
		ep := endpointOf(link)
		for _, code := range []int{500, 502, 503, 504} {
			add(cell{row: fmt.Sprintf("%d once", code), link: link,
				setup: fault(emulator.Fault{Endpoint: ep, Status: code, Count: 1}), want: listed()})
		}
	}
	add(cell{row: "500 always", link: linkMSI, setup: fault(emulator.Fault{Endpoint: "appservice", Status: 500}), want: msiStatus(500)})
	add(cell{row: "500 always", link: linkEntra, setup: fault(emulator.Fault{Endpoint: "token", Status: 500}), want: entraStatus(500)})
	add(cell{row: "500 always", link: linkGraph, setup: fault(emulator.Fault{Endpoint: "graph", Status: 500}), want: graphStatus(500)})

	for _, link := range []string{linkMSI, linkEntra, linkGraph} {
		ep := endpointOf(link)
		add(cell{row: "connection reset once", link: link,
			setup: fault(emulator.Fault{Endpoint: ep, Body: "reset", Count: 1}), want: listed()})
		add(cell{row: "slow (1 min) past a 1 s deadline", link: link,
			setup: fault(emulator.Fault{Endpoint: ep, Latency: time.Minute}),
			run: func(t *testing.T, ch *chain, emu *emulator.Emulator) (int, error) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				return ch.devices(ctx)
			}, want: is(context.DeadlineExceeded, "context.DeadlineExceeded", "deadline exceeded")})
	}
	add(cell{row: "malformed JSON", link: linkMSI, setup: fault(emulator.Fault{Endpoint: "appservice", Body: "malformed", Count: 1}), want: says("an error naming the body", "not JSON", "JSON")})
	add(cell{row: "malformed JSON", link: linkEntra, setup: fault(emulator.Fault{Endpoint: "token", Body: "malformed", Count: 1}), want: says("an error naming the body", "not a token response")})
	add(cell{row: "malformed JSON", link: linkGraph, setup: fault(emulator.Fault{Endpoint: "graph", Body: "malformed", Count: 1}), want: says("an error naming the page", "decode page")})
	// Every answer cut in half (Content-Length promises the whole): over
	// HTTP/2 the cut can reach the client before or after the headers, so
	// a single one is sometimes a retried transport error, sometimes a body
	// error; a persistent one is an error either way.
	truncated := says("an error naming the broken body", "EOF", "stream error", "decode page", "not a token response")
	for _, link := range []string{linkMSI, linkEntra, linkGraph} {
		add(cell{row: "truncated JSON (every answer)", link: link, setup: fault(emulator.Fault{Endpoint: endpointOf(link), Body: "truncated"}), want: truncated})
	}

	const hundredMiB = 100 << 20
	add(cell{row: "100 MiB body", link: linkMSI,
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions {
			s := hostile(t, false, func(w http.ResponseWriter, r *http.Request) {
				hugeBody(w, `{"access_token":"`, hundredMiB)
			})
			return chainOptions{msiEndpoint: s.URL + "/msi/token"}
		}, want: is(bodylimit.ErrTooLarge, "bodylimit.ErrTooLarge", "1 MiB")})
	add(cell{row: "100 MiB body", link: linkEntra,
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions {
			s := hostile(t, true, func(w http.ResponseWriter, r *http.Request) {
				hugeBody(w, `{"access_token":"`, hundredMiB)
			})
			return chainOptions{authority: s.URL, trust: []*httptest.Server{s}}
		}, want: is(bodylimit.ErrTooLarge, "bodylimit.ErrTooLarge", "1 MiB")})
	add(cell{row: "100 MiB body", link: linkGraph,
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions {
			s := hostile(t, true, func(w http.ResponseWriter, r *http.Request) {
				hugeBody(w, `{"value":[{"id":"`, hundredMiB)
			})
			return chainOptions{graphURL: s.URL + "/v1.0", trust: []*httptest.Server{s}}
		}, want: is(graphlite.ErrResponseTooLarge, "graphlite.ErrResponseTooLarge", "32 MiB")})
	add(cell{row: "100 MiB error body (403)", link: linkGraph,
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions {
			s := hostile(t, true, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusForbidden)
				hugeBody(w, `{"error":{"code":"Forbidden","message":"`, hundredMiB)
			})
			return chainOptions{graphURL: s.URL + "/v1.0", trust: []*httptest.Server{s}}
		}, want: graphStatus(403)})

	var rMSI, rEntra, rGraph *redirector
	add(cell{row: "redirect to another host", link: linkMSI,
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions {
			rMSI = newRedirector(t, false)
			return chainOptions{msiEndpoint: rMSI.from.URL + "/msi/token"}
		}, want: msiStatus(307), after: func(t *testing.T, ch *chain) { rMSI.noCredentialLeft(t, ch) }})
	add(cell{row: "redirect to another host", link: linkEntra,
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions {
			rEntra = newRedirector(t, true)
			return chainOptions{authority: rEntra.from.URL, trust: []*httptest.Server{rEntra.from}}
		}, want: entraStatus(307), after: func(t *testing.T, ch *chain) { rEntra.noCredentialLeft(t, ch) }})
	add(cell{row: "redirect to another host", link: linkGraph,
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions {
			rGraph = newRedirector(t, true)
			return chainOptions{graphURL: rGraph.from.URL + "/v1.0", trust: []*httptest.Server{rGraph.from}}
		}, want: graphStatus(401), after: func(t *testing.T, ch *chain) { rGraph.noCredentialLeft(t, ch) }})

	add(cell{row: "token expired on arrival", link: linkMSI,
		emu: &emulator.Options{},
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions {
			emu.IDP().SetClockOffset(-25 * time.Hour) // the 24 h assertion expired an hour ago
			return chainOptions{}
		}, want: is(assertion.ErrExpired, "assertion.ErrExpired", "before this machine's clock")})
	add(cell{row: "token expired on arrival", link: linkEntra,
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions {
			s := hostile(t, true, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"token_type":"Bearer","expires_in":0,"access_token":"expired"}`)
			})
			return chainOptions{authority: s.URL, trust: []*httptest.Server{s}}
		}, want: says("an error naming expires_in", "invalid expires_in")})
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		add(cell{row: fmt.Sprintf("clock skew %+v", skew), link: "all",
			emu:   &emulator.Options{Clock: func() time.Time { return time.Now().Add(skew) }},
			setup: func(t *testing.T, emu *emulator.Emulator) chainOptions { return chainOptions{} },
			want:  listed()})
	}

	add(cell{row: "signing-key rotation (cached assertion signed by the retired key)", link: linkEntra,
		emu: &emulator.Options{},
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions {
			return chainOptions{}
		},
		run: func(t *testing.T, ch *chain, emu *emulator.Emulator) (int, error) {
			// Cache an assertion, rotate, then ask for a token in another
			// tenant: Entra answers AADSTS700027 and the credential fetches
			// a fresh assertion once.
			if _, err := ch.cred.GetToken(context.Background(), tokenOpts(homeTenant)); err != nil {
				return 0, err
			}
			emu.IDP().RotateKeys()
			// The fake Graph fetches keys for an unknown kid at most every
			// 5 s, as a real resource server rate-limits its JWKS fetches;
			// it fetched them during startEmulator's warm-up.
			time.Sleep(5100 * time.Millisecond)
			return ch.devices(context.Background())
		}, want: listed(),
		after: func(t *testing.T, ch *chain) {
			if !strings.Contains(ch.logs.all(), "700027") {
				t.Error("no log entry reports the rejected assertion (AADSTS700027)")
			}
		}})

	add(cell{row: "Entra 503 during refresh-ahead", link: linkEntra,
		emu:   &emulator.Options{TokenLifetime: 8 * time.Second}, // refreshed at half-life
		setup: func(t *testing.T, emu *emulator.Emulator) chainOptions { return chainOptions{} },
		run: func(t *testing.T, ch *chain, emu *emulator.Emulator) (int, error) {
			if _, err := ch.devices(context.Background()); err != nil {
				return 0, err
			}
			tok, err := ch.cred.GetToken(context.Background(), policyOpts{Scopes: []string{graphScope}, TenantID: consentedTenant, EnableCAE: true})
			if err != nil {
				return 0, err
			}
			emu.AddFault(emulator.Fault{Endpoint: "token", Status: 503})
			time.Sleep(time.Until(tok.RefreshOn) + 100*time.Millisecond) // past the refresh time, 4 s before expiry
			if err := ch.token(context.Background()); err != nil {
				return 0, fmt.Errorf("the valid token was not served during the refresh: %w", err)
			}
			if !waitFor(func() bool { return strings.Contains(ch.logs.all(), "failed; the current token is served until") }) {
				return 0, errors.New("no log entry reports the failed refresh")
			}
			emu.ClearFaults()
			time.Sleep(time.Until(tok.ExpiresOn) + 100*time.Millisecond) // past expiry: the next call fetches
			return ch.devices(context.Background())
		}, want: listed()})
	return cs
}

func tokenOpts(tenant string) policyOpts {
	return policyOpts{Scopes: []string{graphScope}, TenantID: tenant}
}

// waitFor polls cond for at most 10 s.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// maxCellAlloc bounds what one cell may allocate in the whole process: the
// hostile bodies are 100 MiB, the bounds 1 MiB (managed identity, Entra,
// Graph errors) and 32 MiB (a Graph page).
const maxCellAlloc = 160 << 20

func TestFaultMatrix(t *testing.T) {
	shared := startEmulator(t, nil)
	for _, c := range cells() {
		t.Run(c.link+"/"+c.row, func(t *testing.T) {
			emu := shared
			if c.emu != nil {
				emu = startEmulator(t, c.emu)
			}
			t.Cleanup(emu.ClearFaults)
			opts := c.setup(t, emu)
			baseline := runtime.NumGoroutine()
			ch := newChain(t, emu, opts)
			var n int
			var err error
			allocated, peak := memCost(t, func() {
				if c.run != nil {
					n, err = c.run(t, ch, emu)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				n, err = ch.devices(ctx)
			})
			if msg := c.want.check(n, err); msg != "" {
				t.Error(msg)
			}
			if c.after != nil {
				c.after(t, ch)
			}
			emu.ClearFaults()
			settle(t, baseline, ch.tr.CloseIdleConnections)
			if allocated > maxCellAlloc {
				t.Errorf("the cell allocated %d MiB, want at most %d MiB", allocated>>20, maxCellAlloc>>20)
			}
			t.Logf("| %s | %s | %s | %s | %.1f MiB / +%.1f MiB |", c.row, c.link, c.want.text, leak.Clip(fmt.Sprint(err), 160),
				float64(allocated)/(1<<20), float64(peak)/(1<<20))
		})
	}
}
