package emulator

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
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantbridge/tenantbridge/armtest"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// Options configure [Start]. A nil *Options and zero fields mean defaults.
type Options struct {
	// Scenario is the directory the emulator serves: tenants and their
	// devices, apps, consents, managed identities, external issuers. nil
	// means [fakeidp.DefaultScenario].
	Scenario *fakeidp.Scenario
	// Mode picks the managed-identity variables of the environment block;
	// "" means [ModeAppService].
	Mode Mode
	// App is the client ID of the app AZURE_CLIENT_ID names; "" means the
	// scenario's first multi-tenant app, else its first app.
	App string
	// ArcKeyDirectory is where [ModeArc] writes the challenge key files; it
	// must exist. "" means a directory "azcmagent-tokens" in Dir. Clients
	// that only trust the agent's own directory (azidentity) need
	// /var/opt/azcmagent/tokens here, and the rights to write it.
	ArcKeyDirectory string

	// Addr is the host the listeners bind: "" means 127.0.0.1. The emulator
	// gives a valid-looking token to whoever asks, so Start refuses an
	// address that is not loopback ([IsLoopbackHost]) with [ErrNonLoopback]
	// unless AllowNonLoopback is set.
	Addr string
	// AllowNonLoopback lets Addr be a non-loopback address (0.0.0.0, ::, an
	// interface's address): everyone who can reach it gets tokens. Start
	// then logs a warning; `fakemsi --allow-non-loopback` also prints one on
	// stderr whatever the log level.
	AllowNonLoopback bool
	// EntraPort, MSIPort, GraphPort and ARMPort fix the listeners' ports; 0
	// picks a free one.
	EntraPort, MSIPort, GraphPort, ARMPort int

	// Dir is where the emulator writes its files (the CA bundle, the workload
	// token file); it must exist, and Close removes the files but not Dir.
	// "" means a new temporary directory, which Close removes.
	Dir string
	// CAFile, when set, is where the CA bundle is written instead of Dir.
	// Close leaves it: it belongs to the caller.
	CAFile string
	// CA, when set, issues the TLS certificates of every HTTPS listener, and
	// the CA bundle holds it alone: a persistent CA that the OS trust store
	// holds (`fakemsi ca install`, `fakemsi --local-ca`), for Go on macOS and
	// Windows, which ignores SSL_CERT_FILE. nil: each server makes its own
	// CA per run. Its PrivateKey must be a crypto.Signer.
	CA *tls.Certificate

	// TokenLifetime of the access tokens Entra issues; 0 means fakeidp's
	// default, 75 minutes (see [fakeidp.Options].TokenLifetime).
	TokenLifetime time.Duration
	// WorkloadTokenLifetime of the token in the workload token file; 0 means
	// one hour, as AKS projects it. The file is rewritten at 80% of it.
	WorkloadTokenLifetime time.Duration
	// SigningKeyBits is the size of the RSA keys that sign tokens: 0 (2048,
	// as Entra) or 1024, for suites that issue very many tokens (see
	// [fakeidp.Options]).
	SigningKeyBits int
	// Clock tells the servers the time (token times, expiry checks); nil
	// means time.Now.
	Clock func() time.Time

	// GraphLimits, when set, has the fake Graph throttle the way Graph does
	// (see [graphtest.Limits]); nil serves every request.
	GraphLimits *graphtest.Limits
	// GraphHTTP2 offers HTTP/2 on the fake Graph's listener, as Graph does
	// (see [graphtest.Options].HTTP2); default HTTP/1.1 only.
	GraphHTTP2 bool

	// Faults are added before the first request, in order, as by
	// [Emulator.AddFault]: each to the server its Endpoint names.
	// [ParseFault] reads them from `fakemsi --fault` specs.
	Faults []Fault

	// Logger gets one line per request from every listener (secrets
	// redacted by the servers and, as a second guard, anything shaped like
	// a JWT replaced by "[jwt redacted]" and the identity header, or any
	// IDENTITY_HEADER= or MSI_SECRET= value, by "[redacted]"); nil logs
	// nothing.
	Logger *slog.Logger
}

// Emulator is a running emulator: a fake Microsoft Entra with managed-identity
// endpoints (fakeidp), a fake Microsoft Graph (graphtest) and a fake Azure
// Resource Manager (armtest) that trust its tokens, with the files and the
// environment block a client needs. Its methods are safe for concurrent use.
type Emulator struct {
	mode    Mode
	idp     *fakeidp.Server
	graph   *graphtest.Server
	arm     *armtest.Server
	client  *http.Client
	caPEM   []byte
	caFile  string
	tenancy Tenancy
	env     Env

	dir       string   // removed by Close when ownDir
	ownDir    bool     //
	files     []string // written into a caller's Dir; removed by Close
	tokenFile string

	gitHubIssuer string // ModeGitHub: the scenario's GitHub-kind issuer
	arcKeyDir    string // ModeArc: where the challenge key files go

	stopRotation context.CancelFunc
	rotationDone chan struct{}

	closeOnce sync.Once
	filesOnce sync.Once
}

// Start starts the emulator (on loopback unless [Options].Addr says
// otherwise): it starts the servers, writes the
// CA bundle (and in workload mode the token file) and builds the environment
// block. On error nothing is left running and no file is left behind. A
// listener that cannot bind is reported as a *[ListenError].
func Start(opts *Options) (*Emulator, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Scenario == nil {
		o.Scenario = fakeidp.DefaultScenario()
	}
	if o.Mode == "" {
		o.Mode = ModeAppService
	}
	if !o.Mode.Valid() {
		return nil, fmt.Errorf("emulator: unknown mode %q (want appservice, imds, workload, github or arc)", o.Mode)
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1"
	}
	if !IsLoopbackHost(o.Addr) && !o.AllowNonLoopback {
		return nil, fmt.Errorf("%w: %q (set Options.AllowNonLoopback, or pass fakemsi --allow-non-loopback, to serve tokens to other hosts)", ErrNonLoopback, o.Addr)
	}
	for _, p := range []int{o.EntraPort, o.MSIPort, o.GraphPort, o.ARMPort} {
		if p < 0 || p > 65535 {
			return nil, fmt.Errorf("emulator: %d is not a TCP port", p)
		}
	}

	e := &Emulator{mode: o.Mode, dir: o.Dir}
	if e.dir == "" {
		dir, err := os.MkdirTemp("", "fakemsi-")
		if err != nil {
			return nil, fmt.Errorf("emulator: temporary directory: %w", err)
		}
		e.dir, e.ownDir = dir, true
	}
	if err := e.start(&o); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// start does the work of Start on e; on error, Start closes what it started
// (and removes what it wrote into its directory), and start removes the
// caller's CAFile if it wrote it: Close never does.
func (e *Emulator) start(o *Options) (err error) {
	// The identity header is made here rather than by fakeidp so that the
	// log redactor knows it before the first request can be logged. 24
	// random bytes in hex, as fakeidp makes its own; crypto/rand.Read never
	// fails.
	var b [24]byte
	_, _ = rand.Read(b[:])
	header := hex.EncodeToString(b[:])
	_, _ = rand.Read(b[:])
	gitHubToken := hex.EncodeToString(b[:])
	logger := o.Logger
	if logger != nil {
		logger = slog.New(newRedactingHandler(logger.Handler(), header, gitHubToken))
	}
	arcDir := o.ArcKeyDirectory
	if o.Mode == ModeArc && arcDir == "" {
		arcDir = e.ownFile("azcmagent-tokens")
		if err := os.Mkdir(arcDir, 0o700); err != nil {
			return fmt.Errorf("emulator: the Arc key directory: %w", err)
		}
	}
	e.arcKeyDir = arcDir

	entraAddr, msiAddr := hostPort(o.Addr, o.EntraPort), hostPort(o.Addr, o.MSIPort)
	idpOpts := &fakeidp.Options{
		Addr:           entraAddr,
		MSIAddr:        msiAddr,
		IdentityHeader: header,
		Clock:          o.Clock,
		TokenLifetime:  o.TokenLifetime,
		SigningKeyBits: o.SigningKeyBits,
		Logger:         logger,
		CA:             o.CA,
	}
	idpOpts.GitHubRequestToken, idpOpts.ArcKeyDirectory = gitHubToken, arcDir
	e.idp, err = fakeidp.New(o.Scenario, idpOpts)
	if err != nil {
		// fakeidp validates the scenario first: a scenario mistake is
		// reported as such, not as a listener's.
		return listenError(map[string]string{entraAddr: ListenerEntra, msiAddr: ListenerMSI}, err)
	}
	// The scenario as the server holds it: {authority} expanded.
	e.tenancy, err = TenancyOf(e.idp.Scenario(), o.App)
	if err != nil {
		return err
	}

	// The devices go to Graph only: the scenario as fakeidp holds it shares
	// them (it does not copy them), generated tenants included.
	devices := map[string][]map[string]any{}
	generated := map[string]int{}
	for _, t := range e.idp.Scenario().Tenants {
		for _, d := range t.Devices {
			devices[t.ID] = append(devices[t.ID], graphDevice(d))
		}
		if t.GeneratedDevices > 0 {
			generated[t.ID] = t.GeneratedDevices
		}
	}
	graphAddr := hostPort(o.Addr, o.GraphPort)
	e.graph, err = graphtest.New(&graphtest.Options{
		KeysURL:   e.idp.KeysURL(),
		Transport: e.idp.Client(),
		Devices:   devices,
		Generated: generated,
		Limits:    o.GraphLimits,
		HTTP2:     o.GraphHTTP2,
		Clock:     o.Clock,
		Addr:      graphAddr,
		Logger:    logger, // one log for every listener
		CA:        o.CA,
	})
	if err != nil {
		return listenError(map[string]string{graphAddr: ListenerGraph}, err)
	}
	var tenants []armtest.Tenant
	var subs []armtest.Subscription
	for _, t := range e.idp.Scenario().Tenants { // generated tenants included, as for Graph
		tenants = append(tenants, armtest.Tenant{ID: t.ID, DisplayName: t.DisplayName})
		for _, sub := range t.Subscriptions {
			subs = append(subs, armSubscription(t.ID, sub))
		}
	}
	armAddr := hostPort(o.Addr, o.ARMPort)
	e.arm, err = armtest.New(&armtest.Options{
		KeysURL:       e.idp.KeysURL(),
		Transport:     e.idp.Client(),
		Tenants:       tenants,
		Subscriptions: subs,
		Clock:         o.Clock,
		Addr:          armAddr,
		Logger:        logger,
		CA:            o.CA,
	})
	if err != nil {
		return listenError(map[string]string{armAddr: ListenerARM}, err)
	}
	for _, f := range o.Faults {
		e.AddFault(f)
	}

	// Three CAs, fakeidp's, graphtest's and armtest's (httptest's): one
	// bundle for all; or the one CA of Options.CA.
	e.caPEM = slices.Concat(e.idp.CAPEM(), e.graph.CAPEM(), e.arm.CAPEM())
	if o.CA != nil {
		e.caPEM = e.idp.CAPEM()
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.caPEM)
	e.client = &http.Client{Transport: &http.Transport{
		// No Proxy: a developer's HTTPS_PROXY must not capture loopback
		// traffic carrying tokens.
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}}
	e.caFile = o.CAFile
	if e.caFile == "" {
		e.caFile = e.ownFile("ca.pem")
	}
	if err := writeFileAtomic(e.caFile, e.caPEM, 0o644); err != nil {
		return fmt.Errorf("emulator: writing the CA bundle: %w", err)
	}
	if o.CAFile != "" {
		defer func() {
			if err != nil {
				os.Remove(o.CAFile)
			}
		}()
	}

	if o.Mode == ModeWorkload {
		if err := e.startTokenFile(o.WorkloadTokenLifetime, logger); err != nil {
			return err
		}
	}
	if o.Mode == ModeGitHub {
		if e.gitHubIssuer, err = gitHubIssuer(e.idp.Scenario()); err != nil {
			return err
		}
	}
	e.env = e.buildEnv()
	if logger != nil && !IsLoopbackHost(o.Addr) {
		logger.Warn("listening on a non-loopback address: anyone who can reach it gets tokens", slog.String("addr", o.Addr))
	}
	return nil
}

// buildEnv assembles the environment block: the mode's variables, then the
// ones every mode sets.
func (e *Emulator) buildEnv() Env {
	var env Env
	switch e.mode {
	case ModeAppService:
		env = Env{
			{"IDENTITY_ENDPOINT", e.idp.AppServiceEndpoint()},
			{"IDENTITY_HEADER", e.idp.IdentityHeader()},
			{"MSI_ENDPOINT", e.idp.AppServiceEndpoint()},
			{"MSI_SECRET", e.idp.IdentityHeader()},
			{"WEBSITE_SITE_NAME", siteName(e.idp.Scenario().ManagedIdentities)},
			{"APPSETTING_WEBSITE_SITE_NAME", siteName(e.idp.Scenario().ManagedIdentities)},
		}
	case ModeIMDS:
		env = Env{{"AZURE_POD_IDENTITY_AUTHORITY_HOST", e.idp.IMDSEndpoint()}}
	case ModeWorkload:
		env = Env{{"AZURE_FEDERATED_TOKEN_FILE", e.tokenFile}}
	case ModeGitHub:
		env = Env{
			{"ACTIONS_ID_TOKEN_REQUEST_URL", e.idp.GitHubTokenRequestURL(e.gitHubIssuer)},
			{"ACTIONS_ID_TOKEN_REQUEST_TOKEN", e.idp.GitHubRequestToken()},
		}
	case ModeArc:
		env = Env{
			{"IDENTITY_ENDPOINT", e.idp.ArcEndpoint()},
			{"IMDS_ENDPOINT", e.idp.ArcIMDSEndpoint()},
			{"FAKEMSI_ARC_KEY_DIR", e.arcKeyDir},
		}
	}
	return append(env,
		Var{"AZURE_AUTHORITY_HOST", e.idp.URL()},
		Var{"AZURE_TENANT_ID", e.tenancy.Home.ID},
		Var{"AZURE_CLIENT_ID", e.tenancy.App.ClientID},
		Var{"AZURE_ADDITIONALLY_ALLOWED_TENANTS", "*"},
		Var{"SSL_CERT_FILE", e.caFile},
		Var{"NODE_EXTRA_CA_CERTS", e.caFile},
		Var{"REQUESTS_CA_BUNDLE", e.caFile},
		Var{"CURL_CA_BUNDLE", e.caFile},
		Var{"TENANTBRIDGE_GRAPH_URL", e.GraphURL()},
		Var{"TENANTBRIDGE_ARM_URL", e.ARMURL()},
		Var{"FAKEMSI_TENANTS", strings.Join(e.tenancy.RemoteIDs(), ",")},
		Var{"FAKEMSI_GRAPH_URL", e.GraphURL()},
		Var{"FAKEMSI_ARM_URL", e.ARMURL()},
	)
}

// startTokenFile writes the projected token file and keeps rewriting it
// before it expires, as the kubelet does.
func (e *Emulator) startTokenFile(lifetime time.Duration, logger *slog.Logger) error {
	issuer, subject, err := workloadSubject(e.idp, e.tenancy.App)
	if err != nil {
		return err
	}
	if lifetime <= 0 {
		lifetime = defaultWorkloadTokenLifetime
	}
	e.tokenFile = e.ownFile("azure-identity-token")
	r := &tokenFileRotator{
		path:     e.tokenFile,
		lifetime: lifetime,
		issue: func() (string, error) {
			return e.idp.IssueExternalToken(issuer, subject, fakeidp.TokenExchangeAudience, lifetime)
		},
		after: time.After,
	}
	if err := r.write(); err != nil {
		return fmt.Errorf("emulator: writing the workload token file: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stopRotation, e.rotationDone = cancel, make(chan struct{})
	go func() {
		defer close(e.rotationDone)
		r.run(ctx, func(err error) {
			if logger != nil {
				logger.Error("rewriting the workload identity token file", slog.String("error", err.Error()))
			}
		})
	}()
	return nil
}

// ownFile names a file the emulator writes into its directory and removes
// on Close.
func (e *Emulator) ownFile(name string) string {
	p := filepath.Join(e.dir, name)
	if !e.ownDir {
		e.files = append(e.files, p)
	}
	return p
}

// Close stops the token file rotation and the servers, waiting for requests
// in flight, and removes the emulator's files. Safe to call more than once.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() {
		if e.stopRotation != nil {
			e.stopRotation()
			<-e.rotationDone
		}
		if e.arm != nil {
			e.arm.Close()
		}
		if e.graph != nil {
			e.graph.Close()
		}
		if e.idp != nil {
			e.idp.Close()
		}
		if e.client != nil {
			e.client.CloseIdleConnections()
		}
		e.removeFiles()
	})
}

// Shutdown is Close with a deadline: when ctx ends before the requests in
// flight have finished, it removes the emulator's files (the CA bundle and
// the token file, which may hold a token) at once and returns ctx.Err(),
// leaving the servers to finish closing in the background. `fakemsi serve`
// uses it when a second signal says "stop now".
func (e *Emulator) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		e.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		e.removeFiles()
		return ctx.Err()
	}
}

func (e *Emulator) removeFiles() {
	e.filesOnce.Do(func() {
		if e.ownDir {
			os.RemoveAll(e.dir)
			return
		}
		for _, f := range e.files {
			os.Remove(f)
		}
	})
}

// Mode is the managed-identity flavour of the environment block.
func (e *Emulator) Mode() Mode { return e.mode }

// String names the mode and the listeners' URLs, never the identity header,
// so that printing an Emulator (fmt's %v, a log line) gives nothing away.
func (e *Emulator) String() string {
	if e == nil {
		return "<nil>"
	}
	return fmt.Sprintf("emulator.Emulator{mode: %s, Entra: %s, managed identity: %s, Graph: %s, ARM: %s}",
		e.mode, e.AuthorityHost(), e.MSIURL(), e.GraphURL(), e.ARMURL())
}

// GoString is [Emulator.String] for fmt's %#v, which would otherwise print
// the fields, the environment block's identity header among them.
func (e *Emulator) GoString() string {
	if e == nil {
		return "(*emulator.Emulator)(nil)"
	}
	return "&" + e.String()
}

// Env returns the environment block (a copy): what a program under test
// needs to find the emulator.
func (e *Emulator) Env() Env { return append(Env(nil), e.env...) }

// Tenancy returns the app, its home tenant and the remote tenants, with the
// consents in force now: those of the scenario and those an administrator
// granted since Start on the admin-consent page ({authority}/{tenant}/adminconsent,
// or [fakeidp.Server.GrantConsent]). The environment block keeps the order of
// FAKEMSI_TENANTS it had at Start.
func (e *Emulator) Tenancy() Tenancy {
	sc := *e.idp.Scenario() // a shallow copy: only Consents changes
	sc.Consents = e.idp.Consents()
	t, err := TenancyOf(&sc, e.tenancy.App.ClientID)
	if err != nil {
		// The app was found at Start and the scenario has not changed.
		return e.tenancy
	}
	return t
}

// AuthorityHost is the Entra authority, https://127.0.0.1:PORT
// (AZURE_AUTHORITY_HOST): the value of an azcore cloud.Configuration's
// ActiveDirectoryAuthorityHost.
func (e *Emulator) AuthorityHost() string { return e.idp.URL() }

// MSIURL is the base of the plain-HTTP managed-identity listener.
func (e *Emulator) MSIURL() string { return e.idp.MSIURL() }

// AppServiceEndpoint is the App Service managed-identity endpoint
// (IDENTITY_ENDPOINT, MSI_ENDPOINT), whatever the mode.
func (e *Emulator) AppServiceEndpoint() string { return e.idp.AppServiceEndpoint() }

// IdentityHeader is the App Service secret (IDENTITY_HEADER, MSI_SECRET).
func (e *Emulator) IdentityHeader() string { return e.idp.IdentityHeader() }

// IMDSEndpoint is the base of the fake IMDS (AZURE_POD_IDENTITY_AUTHORITY_HOST),
// whatever the mode; clients append /metadata/identity/oauth2/token.
func (e *Emulator) IMDSEndpoint() string { return e.idp.IMDSEndpoint() }

// GraphURL is the base URL of the fake Microsoft Graph with its version,
// https://127.0.0.1:PORT/v1.0 (FAKEMSI_GRAPH_URL): a graphlite BaseURL.
func (e *Emulator) GraphURL() string { return e.graph.URL() + "/v1.0" }

// ARMURL is the base URL of the fake Azure Resource Manager,
// https://127.0.0.1:PORT (FAKEMSI_ARM_URL): the Resource Manager endpoint of
// an azcore cloud.Configuration, whose audience stays ARM's
// (https://management.core.windows.net/ or https://management.azure.com/).
func (e *Emulator) ARMURL() string { return e.arm.URL() }

// TokenFile is the workload identity token file (AZURE_FEDERATED_TOKEN_FILE)
// in [ModeWorkload], else "".
func (e *Emulator) TokenFile() string { return e.tokenFile }

// CAPEM is the PEM bundle of the CAs the HTTPS listeners' certificates chain
// to.
func (e *Emulator) CAPEM() []byte { return append([]byte(nil), e.caPEM...) }

// CAFile is the path of the CA bundle (SSL_CERT_FILE, NODE_EXTRA_CA_CERTS).
func (e *Emulator) CAFile() string { return e.caFile }

// Client returns an *http.Client that trusts the emulator's CAs, for every
// listener; it ignores proxy settings. Give it to clients as their transport
// (azcore.ClientOptions.Transport).
func (e *Emulator) Client() *http.Client { return e.client }

// IDP is the fake Entra and managed-identity server: its own request log
// and faults, IMDS warm-up (WarmUpIMDS), keys and clock (RotateKeys,
// SetClockOffset), and the tokens it can issue.
func (e *Emulator) IDP() *fakeidp.Server { return e.idp }

// Graph is the fake Microsoft Graph server: its own request log and faults.
func (e *Emulator) Graph() *graphtest.Server { return e.graph }

// ARM is the fake Azure Resource Manager server: its own request log and
// faults.
func (e *Emulator) ARM() *armtest.Server { return e.arm }

// armSubscription is a scenario subscription as armtest serves it.
func armSubscription(tenantID string, sub fakeidp.Subscription) armtest.Subscription {
	s := armtest.Subscription{ID: sub.ID, TenantID: tenantID, DisplayName: sub.DisplayName, State: sub.State}
	for _, g := range sub.ResourceGroups {
		s.ResourceGroups = append(s.ResourceGroups, armtest.ResourceGroup{Name: g.Name, Location: g.Location})
	}
	return s
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// ErrNonLoopback is the error of [Start] for an [Options].Addr that is not
// loopback, without [Options].AllowNonLoopback. Use errors.Is.
var ErrNonLoopback = errors.New("emulator: refusing to listen on a non-loopback address")

// IsLoopbackHost reports whether host (an Options.Addr: an IP address or a
// host name, without a port) names only the loopback interface: an address
// in 127.0.0.0/8, ::1, or "localhost". The unspecified addresses 0.0.0.0
// and :: bind every interface and are not loopback; "" is not either (Start
// reads it as 127.0.0.1 before asking).
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}
