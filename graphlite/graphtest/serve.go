package graphtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/fault"
	"github.com/tenantbridge/tenantbridge/internal/httpserver"
)

// statusWriter remembers the status a handler wrote.
type statusWriter = httpserver.StatusWriter

// recordKey is the context key of the *Request a request is recorded in,
// so that writeError can note Graph's error code wherever it is called from
// (also when a body fault has the answer written into a recorder).
type recordKey struct{}

// withRecord returns r carrying rec for writeError.
func withRecord(r *http.Request, rec *Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), recordKey{}, rec))
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	began := time.Now() // real time: the latency is what the client waited
	rec := s.newRecord(r, false)
	r = withRecord(r, &rec)
	sw := &statusWriter{ResponseWriter: w}
	// Deferred, so that a fault that resets the connection (a panic with
	// http.ErrAbortHandler) is recorded and logged too, with status 0.
	defer func() {
		rec.Status = sw.Status
		s.addRecord(&rec)
		s.logRequest(r.Context(), rec, time.Since(began))
	}()
	s.handle(sw, r, &rec, false)
}

func (s *Server) newRecord(r *http.Request, inBatch bool) Request {
	// Clipped copies, never the request's own strings and maps: a client
	// sending megabyte requests must not make the log hold megabytes
	// (fault.MaxBytes bounds the whole log, these each record).
	return Request{
		Time: s.clock(), Listener: ListenerGraph,
		Method: fault.ClipText(r.Method), URL: fault.ClipTextN(s.URL()+r.URL.RequestURI(), fault.MaxURLBytes),
		Path: fault.ClipText(r.URL.Path), RawQuery: fault.ClipTextN(r.URL.RawQuery, fault.MaxURLBytes),
		Header: fault.ClipValues(r.Header, secretHeader), InBatch: inBatch,
	}
}

// secretHeader tells which headers a Request keeps as "[redacted]".
func secretHeader(name string) bool {
	return strings.EqualFold(name, "Authorization") || strings.EqualFold(name, "Cookie")
}

// addRecord clips what the handlers filled in and appends rec to the log.
func (s *Server) addRecord(rec *Request) {
	rec.Tenant = fault.ClipText(rec.Tenant)
	rec.NextLink = fault.ClipTextN(rec.NextLink, fault.MaxURLBytes)
	s.requests.Add(*rec)
}

// size estimates the memory a Request holds, for the request log's byte
// budget (fault.MaxBytes).
func (r *Request) size() int {
	return fault.RecordOverhead + fault.TextSize(r.Listener, r.Method, r.URL, r.Path, r.RawQuery, r.Tenant, r.Code, r.NextLink) +
		fault.ValuesSize(r.Header)
}

// handle serves one request (also one inside a $batch). r carries rec
// (withRecord).
func (s *Server) handle(w http.ResponseWriter, r *http.Request, rec *Request, inBatch bool) {
	w.Header().Set("request-id", newUUID())
	crid := r.Header.Get("client-request-id")
	if crid == "" {
		crid = w.Header().Get("request-id")
	}
	w.Header().Set("client-request-id", crid)
	w.Header().Set("Date", s.clock().UTC().Format(http.TimeFormat))

	version, rest, ok := splitVersion(r.URL.Path)
	if !ok {
		s.writeError(w, r, http.StatusBadRequest, "BadRequest", "Invalid version.")
		return
	}
	p, err := s.authenticate(r)
	if err != nil {
		// Graph names itself in the challenge so that clients can find the authority.
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		s.writeError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", err.Error())
		return
	}
	rec.Tenant = p.tenant
	if rest != "/$batch" && s.throttle(w, r, p.tenant) {
		return
	}
	if !inBatch {
		if f, ok := s.faults.Take(fault.EndpointGraph, r.URL.Path); ok {
			fault.Serve(w, r, f, func(w http.ResponseWriter) { s.writeFault(w, r, f) },
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					s.route(w, r, rec, p, version, rest, inBatch)
				}))
			return
		}
	}
	s.route(w, r, rec, p, version, rest, inBatch)
}

// route serves an authenticated request.
func (s *Server) route(w http.ResponseWriter, r *http.Request, rec *Request, p principal, version, rest string, inBatch bool) {
	switch {
	case rest == "/$batch" && !inBatch:
		if r.Method != http.MethodPost {
			s.writeError(w, r, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
			return
		}
		s.batch(w, r, version)
	case rest == "/devices" || strings.HasPrefix(rest, "/devices/"):
		if r.Method != http.MethodGet {
			s.writeError(w, r, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
			return
		}
		if !p.hasAnyRole(deviceRoles) {
			s.writeError(w, r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
			return
		}
		td := s.data[p.tenant]
		switch id := strings.TrimPrefix(rest, "/devices/"); {
		case rest == "/devices":
			s.listDevices(w, r, rec, version, td)
		case id == "delta":
			s.deltaDevices(w, r, rec, version, td)
		case id == "$count":
			s.countDevices(w, r, td)
		case id != "" && !strings.Contains(id, "/"):
			s.getDevice(w, r, version, td, id)
		default:
			s.writeError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", id[strings.LastIndex(id, "/")+1:]))
		}
	default:
		seg := strings.TrimPrefix(rest, "/")
		if i := strings.Index(seg, "/"); i >= 0 {
			seg = seg[:i]
		}
		s.writeError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg))
	}
}

func splitVersion(path string) (version, rest string, ok bool) {
	for _, v := range []string{"v1.0", "beta"} {
		if strings.HasPrefix(path, "/"+v+"/") {
			return v, path[len(v)+1:], true
		}
	}
	return "", "", false
}

// writeError writes Graph's error JSON, with the innerError that support asks for.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	var body struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				Date            string `json:"date"`
				RequestID       string `json:"request-id"`
				ClientRequestID string `json:"client-request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	body.Error.Code = code
	body.Error.Message = message
	body.Error.InnerError.Date = s.clock().UTC().Format("2006-01-02T15:04:05")
	body.Error.InnerError.RequestID = w.Header().Get("request-id")
	body.Error.InnerError.ClientRequestID = w.Header().Get("client-request-id")
	b, _ := json.Marshal(body)
	if rec, ok := r.Context().Value(recordKey{}).(*Request); ok {
		rec.Code = code
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func writeQueryError(s *Server, w http.ResponseWriter, r *http.Request, err error) {
	var qe *queryError
	if errors.As(err, &qe) {
		s.writeError(w, r, http.StatusBadRequest, qe.code, qe.message)
		return
	}
	s.writeError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
}

const jsonContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

func writeJSON(w http.ResponseWriter, b *bytes.Buffer) {
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
