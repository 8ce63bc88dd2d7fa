// Package armtest is a fake Azure Resource Manager for tests: it validates
// bearer tokens the way ARM does and answers GET /subscriptions, GET /tenants
// and GET /subscriptions/{id}/resourcegroups from the data it is given, with
// ARM's JSON shapes, paging (nextLink) and ARM's error shape for the rest.
//
// It follows net/http/httptest, like graphtest: [New] starts an HTTPS server
// on loopback (azcore's BearerTokenPolicy refuses plain http), [Server.URL]
// and [Server.Client] give the address and a client that trusts it,
// [Server.Close] stops it.
//
//	srv, err := armtest.New(&armtest.Options{KeysURL: idp.KeysURL(), Transport: idp.Client(),
//		Subscriptions: []armtest.Subscription{{ID: subID, TenantID: tenantID, DisplayName: "Production"}}})
//	if err != nil {
//		t.Fatal(err)
//	}
//	defer srv.Close()
//	// An ARM SDK client: arm.ClientOptions{ClientOptions: policy.ClientOptions{Cloud: cloud.Configuration{
//	//	ActiveDirectoryAuthorityHost: idp.URL(), Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
//	//	cloud.ResourceManager: {Endpoint: srv.URL(), Audience: "https://management.core.windows.net/"}}}}}
//
// A token is valid when it is RS256-signed by a key of the trusted JWKS, its
// aud is one of the audiences ARM accepts ([Audiences]), it is within
// exp/nbf, and its iss is the v1 issuer of its tid
// (https://sts.windows.net/{tid}/), as Entra issues ARM tokens. A principal
// sees the subscriptions of its token's tenant (the fake has no role
// assignments); another tenant's subscription answers 401
// InvalidAuthenticationTokenTenant, as ARM does.
//
// It has the methods of every fake of this module (fakeidp's and graphtest's
// too): [Server.AddFault] and [Server.ClearFaults] script failures ([Fault],
// with the spec syntax of [ParseFault]), [Server.Requests] and
// [Server.ResetRequests] read and reset the bounded request log.
package armtest

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

// Options configure a Server. The zero value serves no subscriptions and
// trusts no keys; set KeysURL (or JWKS) so that tokens can be validated.
type Options struct {
	// KeysURL is the JWKS of the issuer whose tokens ARM trusts, e.g.
	// fakeidp's KeysURL(). It is fetched on the first request and again when
	// a token names an unknown kid (at most once in five seconds of Clock).
	KeysURL string
	// Transport fetches KeysURL; nil means http.DefaultClient. Give it the
	// issuer's client so that it trusts the issuer's CA.
	Transport policy.Transporter
	// JWKS is a static key set (a JWKS document) trusted in addition to
	// KeysURL.
	JWKS []byte

	// Tenants are the directories GET /tenants describes; a token's tenant
	// missing here is listed with its ID only.
	Tenants []Tenant
	// Subscriptions are the subscriptions ARM knows, each in one tenant.
	Subscriptions []Subscription
	// PageSize is how many items a list answers with before a nextLink;
	// 0 means 100.
	PageSize int

	// Clock tells the time for token lifetimes and Request.Time; nil means
	// time.Now.
	Clock func() time.Time
	// Addr is the listen address; default 127.0.0.1:0.
	Addr string
	// Logger gets one line per request, in the shape of fakeidp's and
	// graphtest's: listener [ListenerARM], method, path, status, ARM error
	// code, tenant and latency; never the Authorization header, a token or
	// the query. nil discards.
	Logger *slog.Logger
	// CA, when set, issues the server's TLS certificate (and CAPEM returns
	// it) instead of httptest's own: a persistent CA that the OS trust store
	// holds (`fakemsi ca install`). Its PrivateKey must be a crypto.Signer.
	CA *tls.Certificate
}

// Tenant is a directory as GET /tenants shows it.
type Tenant struct {
	ID            string
	DisplayName   string
	DefaultDomain string // "" means none is shown
}

// Subscription is an Azure subscription.
type Subscription struct {
	ID             string // a GUID, the subscriptionId
	TenantID       string
	DisplayName    string
	State          string // "" means "Enabled"; ARM's others: Warned, PastDue, Disabled, Deleted
	ResourceGroups []ResourceGroup
}

// ResourceGroup is a resource group of a subscription.
type ResourceGroup struct {
	Name     string
	Location string // "" means "westeurope"
	Tags     map[string]string
}

// Request is one request the server handled, for assertions. The
// Authorization header is redacted; the URL parts and header values are
// clipped (and anything shaped like a JWT hidden) so that the log stays
// bounded. Its fields have graphtest.Request's names for the same ideas.
type Request struct {
	Time     time.Time // when it arrived, on Options.Clock
	Listener string    // always [ListenerARM]
	Method   string
	URL      string // absolute, as received (path and raw query), clipped to fault.MaxURLBytes
	Path     string
	RawQuery string
	Header   http.Header // clipped (fault.ClipValues); Authorization and Cookie are replaced by "[redacted]"
	Tenant   string      // the tid of a valid token, else ""
	Status   int         // 0 when a fault reset the connection without an answer
	// Code is the code of an ARM error answer ("AuthenticationFailed",
	// "SubscriptionNotFound"), else "".
	Code string
}

// ListenerARM is the Listener of every [Request] of this server and of its
// log lines, beside fakeidp's "entra" and "msi" and graphtest's "graph".
const ListenerARM = "arm"

// Server is a running fake ARM. Its methods are safe for concurrent use.
type Server struct {
	caPEM    []byte // Options.CA's certificate; nil: httptest's
	srv      *httptest.Server
	clock    func() time.Time
	keys     *jwks.Keys
	tenants  map[string]Tenant          // by lower-case ID
	subs     map[string]*Subscription   // by lower-case ID
	byTenant map[string][]*Subscription // by lower-case tenant ID, in the order given
	pageSize int
	logger   *slog.Logger

	faults   fault.Set
	requests fault.Log[Request]
}

// defaultPageSize is how many items a list page holds unless
// Options.PageSize says otherwise.
const defaultPageSize = 100

// New starts a Server. opts may be nil. When the listener cannot bind
// Options.Addr, the error wraps the *net.OpError (use errors.As).
func New(opts *Options) (*Server, error) {
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
	if o.PageSize < 0 {
		return nil, errors.New("armtest: PageSize must not be negative")
	}
	if o.PageSize == 0 {
		o.PageSize = defaultPageSize
	}
	keys, err := jwks.New(o.KeysURL, o.Transport, o.JWKS, o.Clock)
	if err != nil {
		return nil, fmt.Errorf("armtest: Options.JWKS: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{clock: o.Clock, keys: keys, pageSize: o.PageSize, logger: o.Logger,
		tenants: map[string]Tenant{}, subs: map[string]*Subscription{}, byTenant: map[string][]*Subscription{}}
	s.requests.Size = (*Request).size
	for _, t := range o.Tenants {
		s.tenants[strings.ToLower(t.ID)] = t
	}
	for i := range o.Subscriptions {
		sub := o.Subscriptions[i]
		sub.ResourceGroups = append([]ResourceGroup(nil), sub.ResourceGroups...)
		id := strings.ToLower(sub.ID)
		switch {
		case sub.ID == "" || strings.ContainsAny(sub.ID, "/?#"):
			return nil, fmt.Errorf("armtest: Subscriptions[%d]: ID %q is not a subscription ID", i, sub.ID)
		case sub.TenantID == "":
			return nil, fmt.Errorf("armtest: Subscriptions[%d]: empty TenantID", i)
		case s.subs[id] != nil:
			return nil, fmt.Errorf("armtest: Subscriptions[%d]: duplicate ID %q", i, sub.ID)
		}
		s.subs[id] = &sub
		tid := strings.ToLower(sub.TenantID)
		s.byTenant[tid] = append(s.byTenant[tid], &sub)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		// Wrapped, not flattened: callers tell a taken port from other
		// failures with errors.As(err, new(*net.OpError)).
		return nil, fmt.Errorf("armtest: listen: %w", err)
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
			return nil, fmt.Errorf("armtest: Options.CA: %w", err)
		}
		s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
		s.caPEM = localca.PEM(*o.CA)
	}
	// A client that does not trust the CA is logged at warn, with the CA
	// variable it reads, instead of on the process's stderr; other
	// handshake noise (clients that hang up) is dropped, as in fakeidp and
	// graphtest.
	// The timeouts of every fake's listener (internal/httpserver): a slow
	// client cannot hold a connection for ever; other server errors go to
	// the logger too (TLS handshake failures at Warn, hang-ups at Debug).
	hint := tlshint.New(o.Logger, ListenerARM)
	s.srv.TLS = hint.Config(s.srv.TLS)
	httpserver.Configure(s.srv.Config, o.Logger, ListenerARM, httpserver.Defaults, hint)
	s.srv.StartTLS()
	return s, nil
}

// URL is the server's base address, https://127.0.0.1:PORT: the Resource
// Manager endpoint of an azcore cloud.Configuration.
func (s *Server) URL() string { return s.srv.URL }

// Handler serves what the listener serves, for use in process. A fault that
// resets the connection panics with http.ErrAbortHandler, as net/http
// handlers do.
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

// Requests returns a copy of the requests handled so far (the last 10,000),
// oldest first.
func (s *Server) Requests() []Request { return s.requests.All() }

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() { s.requests.Reset() }
