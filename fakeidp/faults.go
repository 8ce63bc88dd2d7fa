package fakeidp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/fault"
)

// Fault is the fault model every fake of this module shares ([fault.Fault];
// graphtest.Fault is the same type): the next Count requests (Count 0: every
// one until [Server.ClearFaults]) to Endpoint whose path contains Path wait
// Latency, then get Status with Entra's or the managed-identity endpoint's
// error body (and Retry-After from RetryAfter), or the real answer damaged as
// Body says: "reset" (no answer), "truncated", "malformed" or "oversize"
// (11 MiB).
//
// The endpoints of this server are "token", "openid", "keys", "discovery"
// (instance discovery), "appservice", "imds", "arc", "msi" (the
// managed-identity endpoints) and "github" (the GitHub Actions token request);
// "" is every request.
type Fault = fault.Fault

// ParseFault reads the command-line form of a [Fault], the syntax of
// fakemsi's --fault: an endpoint of this server, then colon-separated items:
// a status code, "reset", "latency=DURATION", "retry-after=SECONDS|DURATION",
// "count=N" (0 or none: until cleared), "body=truncated|malformed|oversize",
// "path=TEXT". Examples: "token:429:retry-after=2:count=3",
// "imds:410:count=2", "token:latency=200ms", "msi:reset",
// "token:body=malformed", "*:503". Errors name the item that is wrong and
// what to write instead. graphtest.ParseFault reads the "graph" specs, and
// emulator.ParseFault the specs of every endpoint.
func ParseFault(spec string) (Fault, error) {
	f, err := fault.Parse(spec)
	if err != nil {
		return Fault{}, fmt.Errorf("fakeidp: %w", err)
	}
	switch f.Endpoint {
	case fault.EndpointGraph:
		return Fault{}, fmt.Errorf("fakeidp: fault %q: graph faults are for the fake Graph (graphtest.ParseFault); fakeidp's endpoints are token, openid, keys, discovery, appservice, imds, msi and *", spec)
	case fault.EndpointARM:
		return Fault{}, fmt.Errorf("fakeidp: fault %q: arm faults are for the fake Resource Manager (armtest.ParseFault); fakeidp's endpoints are token, openid, keys, discovery, appservice, imds, msi and *", spec)
	}
	return f, nil
}

// AddFault scripts a fault. Faults apply in the order added; a request gets
// the first one that matches it.
func (s *Server) AddFault(f Fault) { s.faults.Add(f) }

// ClearFaults removes every scripted fault and ends an IMDS warm-up.
func (s *Server) ClearFaults() {
	s.faults.Clear()
	s.mu.Lock()
	s.imdsUntil = time.Time{}
	s.mu.Unlock()
}

// WarmUpIMDS makes IMDS answer 410 Gone for d from now (server clock), as
// IMDS does while a VM's identity is being set up.
func (s *Server) WarmUpIMDS(d time.Duration) {
	s.mu.Lock()
	s.imdsUntil = s.now().Add(d)
	s.mu.Unlock()
}

func (s *Server) imdsWarmingUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now().Before(s.imdsUntil)
}

// serve wraps every handler: request log, faults, bounded body.
// tenant is the path's tenant segment, recorded even when a fault answers.
func (s *Server) serve(listener, endpoint, tenant string, w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	start, began := s.now(), time.Now() // scenario time for the record, real time for the latency
	info := &reqInfo{tenant: tenant}
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	sw := &statusWriter{ResponseWriter: w}
	defer func() { s.record(start, time.Since(began), listener, r, sw.Status, info) }()

	f, ok := s.faults.Take(endpoint, r.URL.Path)
	if !ok {
		h(sw, r)
		return
	}
	fault.Serve(sw, r, f, func(w http.ResponseWriter) { s.writeFaultStatus(w, r, endpoint, f.Status, info) }, h)
}

func (s *Server) writeFaultStatus(w http.ResponseWriter, r *http.Request, endpoint string, status int, info *reqInfo) {
	msg := fmt.Sprintf("Injected fault: HTTP %d.", status)
	switch endpoint {
	case fault.EndpointAppService:
		writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "correlationId": newGUID()})
	case fault.EndpointGitHub:
		writeJSON(w, status, map[string]any{"message": msg})
	case fault.EndpointIMDS, fault.EndpointArc:
		info.code = "temporarily_unavailable"
		writeJSON(w, status, map[string]string{"error": info.code, "error_description": msg})
	default:
		e := newEntraError(codeTransient, "A transient error has occurred. Please try again. %s", msg)
		e.status = status
		if status == http.StatusTooManyRequests || status >= 500 {
			e.err = "temporarily_unavailable"
		}
		info.entraError(e)
		writeJSON(w, status, e.body(r.Context(), s.now(), clientRequestID(r), s.url))
	}
}

// inProcessTransport serves NoListener requests by calling the handlers.
type inProcessTransport struct{ s *Server }

func (t *inProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var h http.Handler
	switch req.URL.Host {
	case inProcessEntraHost:
		if req.URL.Scheme != "https" {
			return nil, fmt.Errorf("fakeidp: in-process Entra host needs https, got %s", req.URL.Scheme)
		}
		h = t.s.entra
	case inProcessMSIHost:
		h = t.s.msi
	default:
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("fakeidp: in-process transport cannot reach host %q", req.URL.Host)
	}
	sreq := req.Clone(req.Context())
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "192.0.2.1:1234"
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	if sreq.Host == "" {
		sreq.Host = req.URL.Host
	}
	rec := httptest.NewRecorder()
	aborted := func() (aborted bool) {
		defer func() {
			if v := recover(); v != nil {
				if v != http.ErrAbortHandler {
					panic(v)
				}
				aborted = true
			}
		}()
		h.ServeHTTP(rec, sreq)
		return false
	}()
	if req.Body != nil {
		req.Body.Close()
	}
	if aborted && !rec.Flushed && rec.Body.Len() == 0 {
		return nil, errors.New("fakeidp: connection reset by peer (injected fault)")
	}
	resp := rec.Result()
	resp.Request = req
	if aborted {
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(rec.Body.Bytes()), errReader{io.ErrUnexpectedEOF}))
	}
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
