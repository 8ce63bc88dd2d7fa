package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// settings are what a command resolved from its flags and the config file.
type settings struct {
	cfg    *config
	mode   string
	addr   string
	ports  ports
	caFile string // "" writes the bundle into the emulator's temporary directory
	faults faultSet

	logger   *slog.Logger
	redactor *redactingHandler // may be nil (demo logs nothing)
}

type ports struct{ entra, msi, graph int }

// defaultWorkloadTokenLifetime is what AKS projects by default
// (serviceAccountToken expirationSeconds 3600).
const defaultWorkloadTokenLifetime = time.Hour

// emulator is fakeidp and graphtest running together, with the files the
// environment block points at.
type emulator struct {
	idp   *fakeidp.Server
	graph *graphtest.Server
	dir   string // temporary directory; removed by Close
	env   envBlock

	app     fakeidp.App
	home    fakeidp.Tenant
	remotes []remoteTenant

	rotator   *tokenFileRotator // workload mode only
	stopRot   context.CancelFunc
	rotDone   chan struct{}
	closeOnce sync.Once
}

// remoteTenant is a tenant other than the app's home tenant.
type remoteTenant struct {
	fakeidp.Tenant
	Consented bool
	Roles     []string
}

// startEmulator starts the servers, writes the CA bundle (and in workload mode
// the token file) and builds the environment block. On error nothing is left
// running and no file is left behind.
func startEmulator(s settings) (_ *emulator, err error) {
	sc := s.cfg.Scenario
	app, err := pickApp(sc, s.cfg.Options.App)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fakemsi-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	e := &emulator{dir: dir, app: app}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()

	// The identity header is made here rather than by fakeidp so that the log
	// redactor knows it before the first request can be logged.
	header, err := randomHex(24)
	if err != nil {
		return nil, err
	}
	if s.redactor != nil {
		s.redactor.addSecret(header)
	}
	entraAddr, msiAddr := hostPort(s.addr, s.ports.entra), hostPort(s.addr, s.ports.msi)
	e.idp, err = fakeidp.New(sc, &fakeidp.Options{
		Addr:           entraAddr,
		MSIAddr:        msiAddr,
		IdentityHeader: header,
		TokenLifetime:  time.Duration(s.cfg.Options.TokenLifetime),
		Logger:         s.logger,
	})
	if err != nil {
		return nil, listenError("Entra or managed-identity listener",
			map[string]string{entraAddr: "Entra listener", msiAddr: "managed-identity listener"}, err)
	}
	for _, f := range s.faults.idp {
		e.idp.AddFault(f)
	}

	devices := map[string][]map[string]any{}
	for _, t := range sc.Tenants {
		for _, d := range t.Devices {
			devices[t.ID] = append(devices[t.ID], graphDevice(d))
		}
	}
	e.graph, err = graphtest.New(&graphtest.Options{
		KeysURL:    e.idp.KeysURL(),
		HTTPClient: e.idp.Client(),
		Devices:    devices,
		Addr:       hostPort(s.addr, s.ports.graph),
		// The same redacting logger as fakeidp's: one log for the three
		// listeners, and a second guard behind graphtest's own care.
		Logger: s.logger,
	})
	if err != nil {
		return nil, listenError("Graph listener", nil, err)
	}
	for _, f := range s.faults.graph {
		e.graph.AddFault(f)
	}

	caFile := s.caFile
	if caFile == "" {
		caFile = filepath.Join(dir, "ca.pem")
	}
	// Two CAs: fakeidp's and graphtest's (httptest's), one bundle for all.
	bundle := append(e.idp.CAPEM(), e.graph.CAPEM()...)
	if err := writeFileAtomic(caFile, bundle, 0o644); err != nil {
		return nil, fmt.Errorf("writing the CA bundle: %w", err)
	}

	e.home, e.remotes = tenantsOf(e.idp.Scenario(), app)
	env := envBlock{}
	switch s.mode {
	case modeAppService:
		env = append(env,
			envVar{"IDENTITY_ENDPOINT", e.idp.AppServiceEndpoint()},
			envVar{"IDENTITY_HEADER", e.idp.IdentityHeader()},
			envVar{"MSI_ENDPOINT", e.idp.AppServiceEndpoint()},
			envVar{"MSI_SECRET", e.idp.IdentityHeader()})
	case modeIMDS:
		env = append(env, envVar{"AZURE_POD_IDENTITY_AUTHORITY_HOST", e.idp.IMDSEndpoint()})
	case modeWorkload:
		path := filepath.Join(dir, "azure-identity-token")
		if err := e.startWorkloadFile(path, time.Duration(s.cfg.Options.WorkloadTokenLifetime), s.logger); err != nil {
			return nil, err
		}
		env = append(env, envVar{"AZURE_FEDERATED_TOKEN_FILE", path})
	default:
		return nil, fmt.Errorf("unknown mode %q", s.mode)
	}
	var remoteIDs []string
	for _, r := range e.remotes {
		remoteIDs = append(remoteIDs, r.ID)
	}
	e.env = append(env,
		envVar{"AZURE_AUTHORITY_HOST", e.idp.URL()},
		envVar{"AZURE_TENANT_ID", e.home.ID},
		envVar{"AZURE_CLIENT_ID", app.ClientID},
		envVar{"AZURE_ADDITIONALLY_ALLOWED_TENANTS", "*"},
		envVar{"SSL_CERT_FILE", caFile},
		envVar{"NODE_EXTRA_CA_CERTS", caFile},
		envVar{"FAKEMSI_TENANTS", strings.Join(remoteIDs, ",")},
		envVar{"FAKEMSI_GRAPH_URL", e.graph.URL() + "/v1.0"},
	)
	return e, nil
}

// Close stops the servers (waiting for in-flight requests) and the token file
// rotation, and removes the temporary directory. Safe to call more than once.
func (e *emulator) Close() {
	e.closeOnce.Do(func() {
		if e.stopRot != nil {
			e.stopRot()
			<-e.rotDone
		}
		if e.graph != nil {
			e.graph.Close()
		}
		if e.idp != nil {
			e.idp.Close()
		}
		if e.dir != "" {
			os.RemoveAll(e.dir)
		}
	})
}

// describe is the one-line summary serve and exec print on stderr.
func (e *emulator) describe(mode string) string {
	return fmt.Sprintf("fakemsi: %s mode; Entra %s, managed identity %s, Graph %s",
		mode, e.idp.URL(), e.idp.MSIURL(), e.graph.URL())
}

// startWorkloadFile writes the projected token file and keeps rewriting it
// before it expires, as the kubelet does.
func (e *emulator) startWorkloadFile(path string, lifetime time.Duration, logger *slog.Logger) error {
	issuer, subject, err := workloadSubject(e.idp, e.app)
	if err != nil {
		return err
	}
	if lifetime <= 0 {
		lifetime = defaultWorkloadTokenLifetime
	}
	e.rotator = &tokenFileRotator{
		path:     path,
		lifetime: lifetime,
		issue: func() (string, error) {
			return e.idp.IssueExternalToken(issuer, subject, fakeidp.TokenExchangeAudience, lifetime)
		},
		after: time.After,
	}
	if err := e.rotator.write(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stopRot = cancel
	e.rotDone = make(chan struct{})
	go func() {
		defer close(e.rotDone)
		e.rotator.run(ctx, func(err error) {
			if logger != nil {
				logger.Error("rewriting the workload identity token file", slog.String("error", err.Error()))
			}
		})
	}()
	return nil
}

// workloadSubject finds the external issuer and subject that a federated
// credential of app trusts: the token file must carry exactly those.
func workloadSubject(idp *fakeidp.Server, app fakeidp.App) (issuer, subject string, err error) {
	sc := idp.Scenario()
	for _, is := range sc.Issuers {
		url := idp.IssuerURL(is.Name)
		for _, a := range sc.Apps {
			if a.ClientID != app.ClientID {
				continue
			}
			for _, f := range a.FederatedCredentials {
				if f.Issuer == url && contains(f.Audiences, fakeidp.TokenExchangeAudience) {
					return is.Name, f.Subject, nil
				}
			}
		}
	}
	return "", "", fmt.Errorf("workload mode: no federated credential of app %s trusts one of the scenario's issuers with audience %s; add an issuer and a credential with issuer \"{authority}/issuers/NAME\"",
		app.ClientID, fakeidp.TokenExchangeAudience)
}

// pickApp returns the app that AZURE_CLIENT_ID names: the one the options
// choose, else the first multi-tenant app, else the first app.
func pickApp(sc *fakeidp.Scenario, clientID string) (fakeidp.App, error) {
	if len(sc.Apps) == 0 {
		return fakeidp.App{}, errors.New("the scenario has no app registration for AZURE_CLIENT_ID")
	}
	for _, a := range sc.Apps {
		if clientID != "" && a.ClientID == clientID {
			return a, nil
		}
	}
	if clientID != "" {
		return fakeidp.App{}, fmt.Errorf("options.app: no app with clientId %q", clientID)
	}
	for _, a := range sc.Apps {
		if a.MultiTenant {
			return a, nil
		}
	}
	return sc.Apps[0], nil
}

// tenantsOf splits the scenario's tenants into the app's home tenant and the
// remote ones, consented first (FAKEMSI_TENANTS' order), scenario order within.
func tenantsOf(sc *fakeidp.Scenario, app fakeidp.App) (fakeidp.Tenant, []remoteTenant) {
	var home fakeidp.Tenant
	var consented, other []remoteTenant
	for _, t := range sc.Tenants {
		if t.ID == app.HomeTenant {
			home = t
			continue
		}
		r := remoteTenant{Tenant: t}
		for _, c := range sc.Consents {
			if c.Tenant == t.ID && c.ClientID == app.ClientID {
				r.Consented, r.Roles = true, c.Roles
			}
		}
		if r.Consented {
			consented = append(consented, r)
		} else {
			other = append(other, r)
		}
	}
	return home, append(consented, other...)
}

// graphDevice renders a scenario device with Graph's property names.
func graphDevice(d fakeidp.Device) map[string]any {
	return map[string]any{
		"id":                            d.ID,
		"deviceId":                      d.DeviceID,
		"displayName":                   d.DisplayName,
		"operatingSystem":               d.OperatingSystem,
		"operatingSystemVersion":        d.OperatingSystemVersion,
		"trustType":                     d.TrustType,
		"accountEnabled":                d.AccountEnabled,
		"isCompliant":                   d.IsCompliant,
		"isManaged":                     d.IsManaged,
		"approximateLastSignInDateTime": d.ApproximateLastSignInDateTime.UTC().Format(time.RFC3339),
	}
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// listenError keeps a listen failure to the words a user acts on ("cannot
// listen on ADDR: bind: address already in use") and names the listener.
// names maps listen addresses to listener names, for a server with two.
func listenError(which string, names map[string]string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "listen" && oe.Addr != nil {
		if n, ok := names[oe.Addr.String()]; ok {
			which = n
		}
		return fmt.Errorf("%s: cannot listen on %s: %v", which, oe.Addr, oe.Err)
	}
	// graphtest flattens the error to text: "graphtest: listen: listen tcp ADDR: reason".
	msg := err.Error()
	if i := strings.Index(msg, "listen tcp "); i >= 0 {
		return fmt.Errorf("%s: cannot listen on %s", which, msg[i+len("listen tcp "):])
	}
	return fmt.Errorf("%s: %w", which, err)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
