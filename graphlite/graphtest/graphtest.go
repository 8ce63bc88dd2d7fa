// Package graphtest is a fake Microsoft Graph resource server for tests: it
// validates bearer tokens the way Graph does and serves the devices of the
// token's tenant, with paging, $select, $filter, $count, $batch and faults.
//
// It follows net/http/httptest: [New] starts an HTTPS server on loopback
// (azcore's BearerTokenPolicy refuses plain http), [Server.URL] and
// [Server.Client] give the address and a client that trusts it,
// [Server.Close] stops it.
//
//	srv, err := graphtest.New(&graphtest.Options{KeysURL: idp.KeysURL(), Transport: idp.Client()})
//	if err != nil {
//		t.Fatal(err)
//	}
//	defer srv.Close()
//	client, err := graphlite.New(cred, &graphlite.Options{BaseURL: srv.URL() + "/v1.0", ClientOptions: azcore.ClientOptions{Transport: srv.Client()}})
//
// It has the methods of every fake of this module (fakeidp's too):
// [Server.AddFault] and [Server.ClearFaults] script failures ([Fault], with
// the spec syntax of [ParseFault]), [Server.Requests] and
// [Server.ResetRequests] read and reset the request log, whose [Request]
// fields have fakeidp.Request's names for the same ideas.
package graphtest

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/internal/fault"
	"github.com/tenantbridge/tenantbridge/internal/httpserver"
	"github.com/tenantbridge/tenantbridge/internal/jwks"
	"github.com/tenantbridge/tenantbridge/internal/localca"
	"github.com/tenantbridge/tenantbridge/internal/tlshint"
)

// Options configure a Server. The zero value serves no devices and trusts no
// keys; set KeysURL (or JWKS) so that tokens can be validated.
type Options struct {
	// KeysURL is the JWKS of the issuer whose tokens Graph trusts, e.g.
	// fakeidp's /common/discovery/v2.0/keys. It is fetched on the first
	// request and again when a token names an unknown kid (at most once in
	// five seconds of Clock, so that a made-up kid cannot turn the fake into
	// a request amplifier against the issuer), so that key rotation works.
	KeysURL string
	// Transport fetches KeysURL; nil means http.DefaultClient. Give it the
	// client of the issuer's test server (an *http.Client is a
	// policy.Transporter) so that it trusts the issuer's CA.
	Transport policy.Transporter
	// JWKS is a static key set (a JWKS document) trusted in addition to KeysURL;
	// handy in tests that sign tokens themselves.
	JWKS []byte

	// Devices holds, per tenant ID, device objects with Graph's property names
	// (id, deviceId, displayName, operatingSystem, accountEnabled, ...).
	Devices map[string][]map[string]any
	// Generated holds, per tenant ID, a number of devices that are computed on
	// the fly from (tenant, index), never stored, so that a tenant of 100,000
	// devices costs nothing until it is listed. They follow Devices.
	Generated map[string]int

	// Limits, when set, throttles requests the way Graph does (resource
	// units per application and tenant, and per application); see [Limits].
	// nil serves every request (each still carries x-ms-resource-unit).
	Limits *Limits
	// DeltaLinksSurviveRestart makes the delta links of GET /devices/delta
	// valid in another Server started with the same tenants (as Graph's
	// survive a client's restart); by default a link is valid only in the
	// Server that issued it, and another answers 410 resyncRequired.
	DeltaLinksSurviveRestart bool
	// HTTP2 offers HTTP/2 on the TLS listener (ALPN h2, then http/1.1), as
	// Graph does; Client() then speaks it. Default HTTP/1.1 only.
	HTTP2 bool

	// Clock tells the time for token lifetimes, the key refetch interval and
	// Request.Time; nil means time.Now.
	Clock func() time.Time
	// Addr is the listen address; default 127.0.0.1:0.
	Addr string
	// Logger gets one line per request, like fakeidp's: listener [ListenerGraph],
	// method, path, status, Graph error code, tenant and latency (and
	// in_batch for the requests inside a $batch). Never the Authorization
	// header, a token or the query. Failed requests are logged at Warn, the
	// others at Info. The listener's own errors go here too (a failed TLS
	// handshake at Warn, a client hanging up at Debug), clipped and
	// redacted. nil discards.
	Logger *slog.Logger
	// CA, when set, issues the server's TLS certificate (and CAPEM returns
	// it) instead of httptest's own: a persistent CA that the OS trust store
	// holds (`fakemsi ca install`). Its PrivateKey must be a crypto.Signer.
	CA *tls.Certificate
}

// Request is one request the server handled, for assertions. The
// Authorization header is redacted. Its fields have fakeidp.Request's names
// for the same ideas.
type Request struct {
	Time     time.Time // when it arrived, on Options.Clock
	Listener string    // always [ListenerGraph], as in the request log's lines
	Method   string
	URL      string // absolute, as received (path and raw query), clipped to fault.MaxURLBytes
	Path     string
	RawQuery string
	Header   http.Header // clipped; Authorization and Cookie are replaced by "[redacted]", as fakeidp.Request.Form's secrets
	Tenant   string      // the tid of a valid token, else ""
	Status   int         // 0 when a fault reset the connection without an answer
	// Code is the code of a Graph error answer ("TooManyRequests",
	// "Authorization_RequestDenied"), else "".
	Code string
	// NextLink is the @odata.nextLink the response carried, if any.
	NextLink string
	// InBatch is true for a request that arrived inside a $batch.
	InBatch bool
}

// Server is a running fake Graph. Its methods are safe for concurrent use.
type Server struct {
	caPEM  []byte // Options.CA's certificate; nil: httptest's
	srv    *httptest.Server
	clock  func() time.Time
	keys   *jwks.Keys
	data   map[string]*tenantData
	logger *slog.Logger

	faults   fault.Set
	requests fault.Log[Request]

	limits       *limiter
	durableDelta bool
	instance     [4]byte // in delta tokens, unless they survive restarts
}

// New starts a Server. opts may be nil. When the listener cannot bind
// Options.Addr, the error wraps the *net.OpError (use errors.As). The
// listener has the timeouts of every fake's listener (a connection that
// sends no complete header within 10 s is closed) and writes its server
// errors, TLS handshake failures among them, to Options.Logger.
func New(opts *Options) (*Server, error) { return newServer(opts, httpserver.Defaults) }

func newServer(opts *Options, timeouts httpserver.Timeouts) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Transport == nil {
		o.Transport = http.DefaultClient
	}
	keys, err := jwks.New(o.KeysURL, o.Transport, o.JWKS, o.Clock)
	if err != nil {
		return nil, fmt.Errorf("graphtest: Options.JWKS: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{clock: o.Clock, keys: keys, data: map[string]*tenantData{}, logger: o.Logger,
		limits: newLimiter(o.Limits), durableDelta: o.DeltaLinksSurviveRestart, instance: newInstance()}
	s.requests.Size = (*Request).size
	for tid, devs := range o.Devices {
		s.tenant(tid).devices = devs
	}
	for tid, n := range o.Generated {
		if n < 0 {
			return nil, errors.New("graphtest: Generated count must not be negative")
		}
		s.tenant(tid).generated = n
	}
	for _, td := range s.data {
		td.index()
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		// Wrapped, not flattened: callers tell a taken port from other
		// failures with errors.As(err, new(*net.OpError)).
		return nil, fmt.Errorf("graphtest: listen: %w", err)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.srv.Listener.Close()
	s.srv.Listener = ln
	if o.CA != nil {
		var ip net.IP
		if ta, ok := ln.Addr().(*net.TCPAddr); ok {
			ip = ta.IP
		}
		leaf, err := localca.Leaf(*o.CA, ip)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("graphtest: Options.CA: %w", err)
		}
		s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
		s.caPEM = localca.PEM(*o.CA)
	}
	// The timeouts of every fake's listener; server errors go to the
	// logger: a client that refuses the certificate as one warning with the
	// CA variable it reads (tlshint), other TLS handshake failures at Warn,
	// hang-ups at Debug.
	hint := tlshint.New(o.Logger, ListenerGraph)
	s.srv.TLS = hint.Config(s.srv.TLS)
	httpserver.Configure(s.srv.Config, o.Logger, ListenerGraph, timeouts, hint)
	s.srv.EnableHTTP2 = o.HTTP2
	s.srv.StartTLS()
	return s, nil
}

func (s *Server) tenant(tid string) *tenantData {
	td := s.data[strings.ToLower(tid)]
	if td == nil {
		td = &tenantData{tenant: strings.ToLower(tid)}
		s.data[td.tenant] = td
	}
	return td
}

// URL is the server's base address, https://127.0.0.1:PORT; Graph clients use
// URL()+"/v1.0" (or "/beta") as their base URL.
func (s *Server) URL() string { return s.srv.URL }

// Handler serves what the listener serves, for use in process (an
// httptest.NewRecorder, another mux). The links in its answers
// (@odata.nextLink, @odata.context) still name URL(), which keeps working
// until Close. A fault that resets the connection or truncates the body
// panics with http.ErrAbortHandler, as net/http handlers do; a caller of
// ServeHTTP outside net/http recovers it.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Client returns an *http.Client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// CAPEM returns the server's certificate in PEM, for SSL_CERT_FILE or other
// processes that must trust it.
func (s *Server) CAPEM() []byte {
	if s.caPEM != nil {
		return append([]byte(nil), s.caPEM...)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// Close stops the server and waits for its requests to finish.
func (s *Server) Close() { s.srv.Close() }

// Requests returns a copy of the requests handled so far, oldest first: the
// last 10,000, fewer when they hold more than fault.MaxBytes (4 MiB) between
// them. Values are clipped (fault.MaxTextBytes each, fault.MaxURLBytes for
// URL, RawQuery and NextLink) and secrets redacted.
func (s *Server) Requests() []Request { return s.requests.All() }

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() { s.requests.Reset() }
