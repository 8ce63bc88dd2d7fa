package fakeidp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/fault"
	"github.com/tenantbridge/tenantbridge/internal/httpserver"
	"github.com/tenantbridge/tenantbridge/internal/localca"
	"github.com/tenantbridge/tenantbridge/internal/tlshint"
)

// Options configure New. Nil or zero fields mean defaults.
type Options struct {
	Addr           string           // Entra listener (HTTPS), default "127.0.0.1:0"
	MSIAddr        string           // managed-identity listener (plain HTTP), default "127.0.0.1:0"
	IdentityHeader string           // App Service secret; random when empty
	Clock          func() time.Time // default time.Now
	// TokenLifetime of access tokens from the token endpoint. Entra picks a
	// random lifetime between 60 and 90 minutes; the fake uses a fixed value
	// so that tests are reproducible. Default 75 minutes.
	TokenLifetime time.Duration
	// NoListener serves in process only, through Transport() and Client();
	// URL() and MSIURL() are then URLs of reserved names (.test) that only
	// that transport resolves.
	NoListener bool
	// Logger gets one line per request, tokens redacted, and the listeners'
	// own errors (a failed TLS handshake at Warn, a hang-up at Debug),
	// clipped and redacted; nil discards.
	Logger *slog.Logger
	// SigningKeyBits is the RSA modulus size of the server's signing keys.
	// Zero means 2048, as Entra uses; the only other accepted value is 1024
	// (rejected for anything but speed: no client checks the size of a key it
	// does not verify with, and resource servers such as graphtest accept it).
	// One 2048-bit RS256 signature costs about 0.7 ms, and every issued token
	// pays it, so benchmarks that want to measure clients rather than the
	// emulator, and suites that issue tens of thousands of tokens, may choose
	// 1024, about four times cheaper.
	SigningKeyBits int
	// CA, when set, issues the Entra listener's TLS certificate instead of a
	// CA made for this server (and CAPEM returns it): a persistent CA that
	// the OS trust store already holds (`fakemsi ca install`). Its
	// PrivateKey must be a crypto.Signer.
	CA *tls.Certificate

	// GitHubRequestToken is the bearer token the GitHub Actions token
	// request endpoint requires (ACTIONS_ID_TOKEN_REQUEST_TOKEN); random
	// when empty.
	GitHubRequestToken string
	// ArcKeyDirectory is where the Azure Arc endpoint writes its challenge
	// key files; it must exist. Empty means a temporary directory made on
	// the first challenge and removed by Close.
	ArcKeyDirectory string
}

// defaultTokenLifetime is the lifetime of access tokens when
// Options.TokenLifetime is zero: inside Entra's 60–90 minute range.
const defaultTokenLifetime = 75 * time.Minute

// managedIdentityLifetime is how long managed-identity tokens live, as on
// App Service and IMDS.
const managedIdentityLifetime = 24 * time.Hour

// The hosts of a NoListener server. RFC 6761 reserves .test, so they can
// never reach a real host.
const (
	inProcessEntraHost = "login.fakeidp.test"
	inProcessMSIHost   = "msi.fakeidp.test"
)

// Server is a fake Microsoft Entra authority and managed-identity endpoint.
// All methods are safe for concurrent use.
type Server struct {
	keyBits    int
	sc         *Scenario
	tenants    map[string]*Tenant
	apps       map[string]*App
	resources  []Resource // MicrosoftResources, then the scenario's
	identities []ManagedIdentity
	// consents maps {tenant, client ID} to the consent; replaced whole
	// (copy on write) when the admin-consent page grants one, so that
	// readers never lock.
	consents  atomic.Pointer[map[[2]string]*Consent]
	consentMu sync.Mutex // serializes GrantConsent's copy on write
	// consentKey signs the admin-consent page's form tokens.
	consentKey [32]byte

	url, msiURL    string
	identityHeader string
	lifetime       time.Duration
	clock          func() time.Time
	offset         atomic.Int64 // clock offset, nanoseconds
	logger         *slog.Logger

	caPEM     []byte
	transport http.RoundTripper
	entra     http.Handler
	msi       http.Handler
	servers   []*http.Server
	done      sync.WaitGroup
	closeOnce sync.Once

	mu        sync.Mutex
	keys      []*signingKey // Entra signing keys, current first
	imdsUntil time.Time     // IMDS answers 410 before this instant

	// issuerKeys are the external issuers' keys, made on first use (an RSA
	// key costs a quarter of a second on a busy machine, and most tests never
	// touch an external issuer); guarded by issuerKeyMu. issuerKinds names
	// the hosted issuers and is read-only after New.
	issuerKeyMu sync.Mutex
	issuerKeys  map[string]*signingKey
	issuerKinds map[string]string

	faults   fault.Set
	requests fault.Log[Request]
	verified verifiedCache // assertions whose signature verified

	platforms *platforms // GitHub Actions and Azure Arc endpoints
}

// New starts a fake with the scenario (nil means DefaultScenario()). It
// validates the scenario, generates the CA, the TLS certificate and the
// signing keys, and starts both listeners unless opts.NoListener.
func New(sc *Scenario, opts *Options) (*Server, error) {
	if sc == nil {
		sc = DefaultScenario()
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.MSIAddr == "" {
		o.MSIAddr = "127.0.0.1:0"
	}
	switch o.SigningKeyBits {
	case 0:
		o.SigningKeyBits = 2048
	case 1024, 2048:
	default:
		return nil, fmt.Errorf("fakeidp: Options.SigningKeyBits %d: use 2048 (Entra's size, the default) or 1024", o.SigningKeyBits)
	}
	s := &Server{
		keyBits:        o.SigningKeyBits,
		clock:          o.Clock,
		lifetime:       o.TokenLifetime,
		identityHeader: o.IdentityHeader,
		logger:         o.Logger,
		issuerKeys:     map[string]*signingKey{},
		issuerKinds:    map[string]string{},
	}
	s.requests.Size = (*Request).size
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.lifetime <= 0 {
		s.lifetime = defaultTokenLifetime
	}
	_, _ = rand.Read(s.consentKey[:])
	if s.identityHeader == "" {
		var b [24]byte
		_, _ = rand.Read(b[:])
		s.identityHeader = hex.EncodeToString(b[:])
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}

	var ca tls.Certificate
	var err error
	if o.CA != nil {
		ca = *o.CA
	} else if ca, err = localca.New("tenantbridge fakeidp CA"); err != nil {
		return nil, fmt.Errorf("fakeidp: %w", err)
	}
	caCert, _, err := localca.Parts(ca)
	if err != nil {
		return nil, fmt.Errorf("fakeidp: Options.CA: %w", err)
	}
	s.caPEM = localca.PEM(ca)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)

	k, err := newSigningKey("fakeidp token signing", s.keyBits, s.now())
	if err != nil {
		return nil, err
	}
	s.keys = []*signingKey{k}
	for _, is := range sc.Issuers {
		s.issuerKinds[is.Name] = is.Kind
	}

	s.entra = s.entraHandler()
	s.platforms = newPlatforms(&o)
	s.msi = s.platformHandler(s.msiHandler())

	var entraLn, msiLn net.Listener
	if o.NoListener {
		s.url = "https://" + inProcessEntraHost
		s.msiURL = "http://" + inProcessMSIHost
		s.transport = &inProcessTransport{s: s}
	} else {
		entraLn, err = net.Listen("tcp", o.Addr)
		if err != nil {
			return nil, fmt.Errorf("fakeidp: listening on %s: %w", o.Addr, err)
		}
		msiLn, err = net.Listen("tcp", o.MSIAddr)
		if err != nil {
			entraLn.Close()
			return nil, fmt.Errorf("fakeidp: listening on %s: %w", o.MSIAddr, err)
		}
		s.url = "https://" + hostPort(entraLn.Addr())
		s.msiURL = "http://" + hostPort(msiLn.Addr())
		s.transport = &http.Transport{
			// No Proxy: a developer's HTTPS_PROXY must not capture loopback
			// traffic carrying tokens.
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		}
	}

	s.setScenario(sc)

	if !o.NoListener {
		var ip net.IP
		if ta, ok := entraLn.Addr().(*net.TCPAddr); ok {
			ip = ta.IP
		}
		leaf, err := localca.Leaf(ca, ip, inProcessEntraHost)
		if err != nil {
			err = fmt.Errorf("fakeidp: %w", err)
			entraLn.Close()
			msiLn.Close()
			return nil, err
		}
		// The timeouts of every fake's listener; server errors go to the
		// request logger: a client that refuses the certificate as one
		// warning with the CA variable it reads (tlshint), other TLS
		// handshake failures at Warn, hang-ups at Debug.
		hint := tlshint.New(s.logger, ListenerEntra)
		es := httpserver.New(s.entra, s.logger, ListenerEntra, httpserver.Defaults, hint)
		es.TLSConfig = hint.Config(&tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12})
		ms := httpserver.New(s.msi, s.logger, ListenerMSI, httpserver.Defaults, nil)
		s.servers = []*http.Server{es, ms}
		s.done.Add(2)
		go func() { defer s.done.Done(); _ = es.ServeTLS(entraLn, "", "") }()
		go func() { defer s.done.Done(); _ = ms.Serve(msiLn) }()
	}
	return s, nil
}

// setScenario installs a copy of sc with {authority} expanded and builds the
// lookup tables.
func (s *Server) setScenario(sc *Scenario) {
	c := sc.clone()
	c.expand()
	for i := range c.Apps {
		for j := range c.Apps[i].FederatedCredentials {
			f := &c.Apps[i].FederatedCredentials[j]
			f.Issuer = strings.ReplaceAll(f.Issuer, AuthorityPlaceholder, s.url)
		}
	}
	s.sc = c
	s.tenants = map[string]*Tenant{}
	for i := range c.Tenants {
		s.tenants[c.Tenants[i].ID] = &c.Tenants[i]
	}
	s.apps = map[string]*App{}
	for i := range c.Apps {
		s.apps[c.Apps[i].ClientID] = &c.Apps[i]
	}
	consents := map[[2]string]*Consent{}
	for i := range c.Consents {
		consents[[2]string{c.Consents[i].Tenant, c.Consents[i].ClientID}] = &c.Consents[i]
	}
	s.consents.Store(&consents)
	s.resources = append(append(MicrosoftResources(), c.Resources...), cloudResources(c.Cloud)...)
	s.identities = c.ManagedIdentities
}

func hostPort(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	return net.JoinHostPort(ta.IP.String(), fmt.Sprint(ta.Port))
}

// URL is the authority host, "https://127.0.0.1:PORT": the Entra endpoints
// live under it.
func (s *Server) URL() string { return s.url }

// MSIURL is the base of the plain-HTTP managed-identity listener.
func (s *Server) MSIURL() string { return s.msiURL }

// AppServiceEndpoint is what IDENTITY_ENDPOINT and MSI_ENDPOINT hold.
func (s *Server) AppServiceEndpoint() string { return s.msiURL + "/msi/token" }

// IMDSEndpoint is the IMDS base; clients append /metadata/identity/oauth2/token.
func (s *Server) IMDSEndpoint() string { return s.msiURL }

// IdentityHeader is the App Service secret (IDENTITY_HEADER, MSI_SECRET).
func (s *Server) IdentityHeader() string { return s.identityHeader }

// CAPEM is the PEM certificate of the CA that signed the TLS certificate, for
// SSL_CERT_FILE or NODE_EXTRA_CA_CERTS.
func (s *Server) CAPEM() []byte { return append([]byte(nil), s.caPEM...) }

// Transport trusts the CA and, with NoListener, routes to the in-process
// handlers. It ignores proxy environment variables.
func (s *Server) Transport() http.RoundTripper { return s.transport }

// Client is an *http.Client using Transport().
func (s *Server) Client() *http.Client { return &http.Client{Transport: s.transport} }

// Handler is the Entra handler (what the HTTPS listener serves).
func (s *Server) Handler() http.Handler { return s.entra }

// MSIHandler is the managed-identity handler (what the HTTP listener serves).
func (s *Server) MSIHandler() http.Handler { return s.msi }

// Scenario is the scenario with {authority} expanded. Treat it as read-only.
// Its Consents are those the server started with; [Server.Consents] adds
// the ones granted since.
func (s *Server) Scenario() *Scenario { return s.sc }

// consent returns the consent of tenant to clientID, or nil.
func (s *Server) consent(tenant, clientID string) *Consent {
	return (*s.consents.Load())[[2]string{tenant, clientID}]
}

// IssuerURL is "{URL()}/{tenant}/v2.0" for a tenant of the scenario and
// "{URL()}/issuers/{name}" for an external issuer.
func (s *Server) IssuerURL(tenantOrIssuerName string) string {
	if _, ok := s.tenants[tenantOrIssuerName]; !ok {
		for _, is := range s.sc.Issuers {
			if is.Name == tenantOrIssuerName {
				return s.url + "/issuers/" + url.PathEscape(is.Name)
			}
		}
	}
	return s.url + "/" + tenantOrIssuerName + "/v2.0"
}

// KeysURL is the JWKS of every key that signs access tokens: what a resource
// server such as a fake Graph trusts.
func (s *Server) KeysURL() string { return s.url + "/common/discovery/v2.0/keys" }

// SetClockOffset shifts the server's clock (token times, expiry checks).
func (s *Server) SetClockOffset(d time.Duration) { s.offset.Store(int64(d)) }

func (s *Server) now() time.Time { return s.clock().Add(time.Duration(s.offset.Load())) }

// RotateKeys replaces the Entra signing key. The old key leaves the JWKS at
// once, so tokens it signed (access tokens and managed-identity assertions)
// fail validation from then on, as after an emergency rotation.
func (s *Server) RotateKeys() {
	k, err := newSigningKey("fakeidp token signing", s.keyBits, s.now())
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	s.mu.Lock()
	s.keys = []*signingKey{k}
	s.mu.Unlock()
}

func (s *Server) currentKey() *signingKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[0]
}

// Close stops both listeners, waiting for in-flight requests.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		for _, srv := range s.servers {
			_ = srv.Shutdown(context.Background())
		}
		s.done.Wait()
		if t, ok := s.transport.(*http.Transport); ok {
			t.CloseIdleConnections()
		}
		s.platforms.close()
	})
}

// errUnknownIssuer is returned by IssueExternalToken for a name the scenario
// does not host.
var errUnknownIssuer = errors.New("fakeidp: unknown external issuer")
