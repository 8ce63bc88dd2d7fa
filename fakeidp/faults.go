package fakeidp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// Fault is a scripted misbehaviour: the next Count requests to Endpoint get
// it. Latency combines with any other effect; of Reset, Status and Body the
// first set wins.
type Fault struct {
	// Endpoint is "token", "discovery" (instance discovery), "keys",
	// "openid", "appservice", "imds", "msi" (both managed-identity
	// endpoints) or "" for all.
	Endpoint   string
	Count      int           // how many requests it applies to; 0 = until ClearFaults
	Latency    time.Duration // added before answering (cut short when the client gives up)
	Status     int           // answer with this status and an Entra- or MSI-shaped error body
	RetryAfter time.Duration // Retry-After header with Status
	Reset      bool          // close the connection without an answer
	Body       string        // "truncated" | "malformed" | "oversize" (11 MiB): mangle the real answer
}

// Fault bodies.
const (
	BodyTruncated = "truncated"
	BodyMalformed = "malformed"
	BodyOversize  = "oversize"
)

// oversizeBytes is larger than the 10 MiB that careful clients read.
const oversizeBytes = 11 << 20

var faultEndpoints = map[string]bool{
	"": true, "token": true, "discovery": true, "keys": true, "openid": true,
	"appservice": true, "imds": true, "msi": true,
}

// ParseFault reads the command-line form of a fault: an endpoint, then
// colon-separated items: a status code, "reset", "latency=DURATION",
// "retry-after=SECONDS|DURATION", "count=N", "body=truncated|malformed|oversize".
// Examples: "token:429:retry-after=2:count=3", "imds:410:count=2",
// "token:latency=200ms", "msi:reset", "token:body=malformed", "*:503".
func ParseFault(spec string) (Fault, error) {
	parts := strings.Split(spec, ":")
	var f Fault
	f.Endpoint = parts[0]
	if f.Endpoint == "*" || f.Endpoint == "all" {
		f.Endpoint = ""
	}
	if !faultEndpoints[f.Endpoint] {
		return Fault{}, fmt.Errorf("fakeidp: fault %q: unknown endpoint %q", spec, parts[0])
	}
	if len(parts) == 1 {
		return Fault{}, fmt.Errorf("fakeidp: fault %q: nothing to do (add a status, reset, latency= or body=)", spec)
	}
	for _, item := range parts[1:] {
		key, val, hasVal := strings.Cut(item, "=")
		var err error
		switch {
		case !hasVal && key == "reset":
			f.Reset = true
		case !hasVal:
			f.Status, err = strconv.Atoi(key)
			if err == nil && (f.Status < 100 || f.Status > 599) {
				err = errors.New("out of range")
			}
		case key == "count":
			f.Count, err = strconv.Atoi(val)
			if err == nil && f.Count < 0 {
				err = errors.New("negative")
			}
		case key == "latency":
			f.Latency, err = time.ParseDuration(val)
		case key == "retry-after":
			f.RetryAfter, err = parseSecondsOrDuration(val)
		case key == "body":
			switch val {
			case BodyTruncated, BodyMalformed, BodyOversize:
				f.Body = val
			default:
				err = errors.New("want truncated, malformed or oversize")
			}
		default:
			err = errors.New("unknown item")
		}
		if err != nil {
			return Fault{}, fmt.Errorf("fakeidp: fault %q: %q: %v", spec, item, err)
		}
	}
	return f, nil
}

func parseSecondsOrDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

type activeFault struct {
	f         Fault
	remaining int // -1: until ClearFaults
}

// AddFault scripts a fault. Faults apply in the order added; a request gets
// the first one whose endpoint matches.
func (s *Server) AddFault(f Fault) {
	n := f.Count
	if n <= 0 {
		n = -1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &activeFault{f: f, remaining: n})
	s.mu.Unlock()
}

// ClearFaults removes every scripted fault and ends an IMDS warm-up.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
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

func (s *Server) takeFault(endpoint string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, a := range s.faults {
		e := a.f.Endpoint
		if e != "" && e != endpoint && (e != "msi" || (endpoint != "appservice" && endpoint != "imds")) {
			continue
		}
		if a.remaining > 0 {
			a.remaining--
			if a.remaining == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return a.f, true
	}
	return Fault{}, false
}

// serve wraps every handler: request log, faults, bounded body.
// tenant is the path's tenant segment, recorded even when a fault answers.
func (s *Server) serve(listener, endpoint, tenant string, w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	start, began := s.now(), time.Now() // scenario time for the record, real time for the latency
	info := &reqInfo{tenant: tenant}
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	sw := &statusWriter{ResponseWriter: w}
	defer func() { s.record(start, time.Since(began), listener, r, sw.status, info) }()

	f, ok := s.takeFault(endpoint)
	if !ok {
		h(sw, r)
		return
	}
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	switch {
	case f.Reset:
		panic(http.ErrAbortHandler) // net/http closes the connection without answering
	case f.Status != 0:
		if f.RetryAfter > 0 {
			secs := int((f.RetryAfter + time.Second - 1) / time.Second)
			sw.Header().Set("Retry-After", strconv.Itoa(secs))
		}
		s.writeFaultStatus(sw, r, endpoint, f.Status, info)
	case f.Body != "":
		rec := httptest.NewRecorder()
		h(rec, r)
		mangle(sw, rec, f.Body)
	default:
		h(sw, r)
	}
}

func (s *Server) writeFaultStatus(w http.ResponseWriter, r *http.Request, endpoint string, status int, info *reqInfo) {
	msg := fmt.Sprintf("Injected fault: HTTP %d.", status)
	switch endpoint {
	case "appservice":
		writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "correlationId": newGUID()})
	case "imds":
		writeJSON(w, status, map[string]string{"error": "temporarily_unavailable", "error_description": msg})
	default:
		e := newEntraError(CodeTransient, "A transient error has occurred. Please try again. %s", msg)
		e.status = status
		if status == http.StatusTooManyRequests || status >= 500 {
			e.err = "temporarily_unavailable"
		}
		info.errorCode = e.code
		writeJSON(w, status, e.body(s.now(), r.Header.Get("client-request-id"), s.url))
	}
}

// mangle sends the recorded answer damaged as the fault asks.
func mangle(w http.ResponseWriter, rec *httptest.ResponseRecorder, kind string) {
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	switch kind {
	case BodyTruncated:
		// Promise the whole body, send half, hang up: the client sees an
		// unexpected EOF.
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	case BodyMalformed:
		cut := bytes.TrimSuffix(body, []byte("}"))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(append(cut, []byte(`,"expires_in":`)...))
	case BodyOversize:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(oversizeBytes))
		w.WriteHeader(rec.Code)
		head := []byte(`{"padding":"`)
		tail := []byte(`"}`)
		_, _ = w.Write(head)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		left := oversizeBytes - len(head) - len(tail)
		for left > 0 {
			n := min(left, len(chunk))
			if _, err := w.Write(chunk[:n]); err != nil {
				return
			}
			left -= n
		}
		_, _ = w.Write(tail)
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
