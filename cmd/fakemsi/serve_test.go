package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// TestServe runs `serve --env-file` and uses the environment from the file
// the way a separate program would: only the values in the file, with the CA
// from SSL_CERT_FILE. Then SIGTERM must end it with status 0, free its ports
// and remove its temporary files.
func TestServe(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "fake.env")
	r := startFakemsi(t, nil, "serve", "--env-file", envFile, "--log-format", "json")
	exports := r.waitLine("export FAKEMSI_ARM_URL=")

	c := clientFromEnvFile(t, envFile)
	env, hc := c.env, c.hc
	if len(exports) != len(env) {
		t.Errorf("stdout has %d export lines, the env file %d variables", len(exports), len(env))
	}
	for _, l := range exports {
		name, val, _ := strings.Cut(strings.TrimPrefix(l, "export "), "=")
		if want := shellQuote(env[name]); val != want {
			t.Errorf("export line for %s differs from the env file", name)
		}
	}
	if fi, err := os.Stat(envFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("env file mode %v, %v; want 0600: it holds the identity header", fi.Mode().Perm(), err)
	}

	// The CA bundle must let a client reach every HTTPS listener (Entra,
	// Graph, ARM).
	if err := checkPEMFile(env["SSL_CERT_FILE"], 3); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	// The managed identity, as App Service code reaches it.
	a, err := c.src.Assertion(ctx)
	if err != nil {
		t.Fatalf("assertion from IDENTITY_ENDPOINT: %v", err)
	}
	claims, err := jwtClaims(a.Token)
	if err != nil || claims["sub"] != fakeidp.DefaultSystemIdentityObjectID {
		t.Errorf("assertion sub = %v (%v), want the system-assigned identity", claims["sub"], err)
	}
	// Entra, through AZURE_AUTHORITY_HOST.
	cred := c.cred
	consented := strings.Split(env["FAKEMSI_TENANTS"], ",")[0]
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: consented})
	if err != nil {
		t.Fatalf("token in %s: %v", consented, err)
	}
	if c, _ := jwtClaims(tok.Token); c["tid"] != consented {
		t.Errorf("token tid = %v, want %s", c["tid"], consented)
	}
	// Graph, through FAKEMSI_GRAPH_URL.
	gc, err := graphlite.New(cred.ForTenant(consented), &graphlite.Options{BaseURL: env["FAKEMSI_GRAPH_URL"], ClientOptions: azcore.ClientOptions{Transport: hc}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for d, err := range gc.Devices(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, d.DisplayName)
	}
	if len(names) != 4 || names[0] != "FAB-DESK-001" {
		t.Errorf("devices of the consented tenant: %q", names)
	}
	hc.CloseIdleConnections()

	r.signal(syscall.SIGTERM)
	if code := r.wait(); code != 0 {
		t.Fatalf("exit code after SIGTERM %d, want 0\nstderr:\n%s", code, redact(r.stderr.String()))
	}
	for _, name := range []string{"IDENTITY_ENDPOINT", "AZURE_AUTHORITY_HOST", "FAKEMSI_GRAPH_URL"} {
		u, err := url.Parse(env[name])
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", u.Host)
		if err != nil {
			t.Errorf("port of %s not freed: %v", name, err)
			continue
		}
		ln.Close()
	}
	if _, err := os.Stat(env["SSL_CERT_FILE"]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CA bundle still exists after shutdown: %v", err)
	}

	logs := r.stderr.String()
	if !strings.Contains(logs, `"listener":"msi"`) || !strings.Contains(logs, `"listener":"entra"`) {
		t.Errorf("request log lacks msi or entra lines:\n%s", redact(logs, env["IDENTITY_HEADER"]))
	}
	// Graph requests are logged like the others, through the same handler.
	if want := `"msg":"graphtest request","listener":"graph","method":"GET","path":"/v1.0/devices","status":200,"error_code":"","tenant":"` + consented + `"`; !strings.Contains(logs, want) {
		t.Errorf("request log lacks the Graph line %s:\n%s", want, redact(logs, env["IDENTITY_HEADER"]))
	}
	if strings.Contains(logs, "eyJ") {
		t.Error("the log contains a JWT")
	}
	if strings.Contains(logs, env["IDENTITY_HEADER"]) {
		t.Error("the log contains the identity header")
	}
}

// envClient is what a separate program builds from the env file of
// `fakemsi serve --env-file`: the variables, an HTTP client that trusts the
// CA bundle SSL_CERT_FILE names, the App Service managed identity of
// IDENTITY_ENDPOINT, and a federated credential for the app of
// AZURE_CLIENT_ID at AZURE_AUTHORITY_HOST.
type envClient struct {
	env  map[string]string
	hc   *http.Client
	src  assertion.Source
	cred *federated.Credential
}

func clientFromEnvFile(t *testing.T, envFile string) *envClient {
	t.Helper()
	env := readEnvFile(t, envFile)
	pemData, err := os.ReadFile(env["SSL_CERT_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(hc.CloseIdleConnections)
	src, err := assertion.AppService(&assertion.AppServiceOptions{Endpoint: env["IDENTITY_ENDPOINT"], IdentityHeader: env["IDENTITY_HEADER"]})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := federated.NewCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], src, &federated.Options{
		ClientOptions:              azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: env["AZURE_AUTHORITY_HOST"]}, Transport: hc},
		AdditionallyAllowedTenants: []string{env["AZURE_ADDITIONALLY_ALLOWED_TENANTS"]},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &envClient{env: env, hc: hc, src: src, cred: cred}
}

// readEnvFile reads the env file of `fakemsi serve --env-file`.
func readEnvFile(t *testing.T, envFile string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env, err := parseEnvFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestServeSecondSignalExitsAtOnce holds a request in the managed-identity
// endpoint (an hour of latency): SIGTERM starts a shutdown that waits for it,
// and a second SIGTERM exits 1 at once, naming the signal, with the
// temporary files removed.
func TestServeSecondSignalExitsAtOnce(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "fake.env")
	// One request is held for an hour in the handler. Which one is the
	// server's choice: the fault is taken when a handler starts (count=1),
	// so of two token requests on two connections the first to be answered
	// proves the other is inside its handler. (A request merely written is
	// not enough: until the server reads it, its connection is new, and a
	// graceful shutdown closes it at once instead of waiting.)
	r := startFakemsi(t, nil, "serve", "--env-file", envFile, "--fault", "appservice:latency=1h:count=1")
	r.waitLine("export FAKEMSI_ARM_URL=")
	env := readEnvFile(t, envFile)

	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	tokenRequest := func(answered chan<- error) {
		req, err := http.NewRequestWithContext(ctx, "GET",
			env["IDENTITY_ENDPOINT"]+"?api-version=2019-08-01&resource="+url.QueryEscape(fakeidp.TokenExchangeAudience), nil)
		if err != nil {
			answered <- err
			return
		}
		req.Header.Set("X-IDENTITY-HEADER", env["IDENTITY_HEADER"])
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}
	first, second := make(chan error, 1), make(chan error, 1)
	go tokenRequest(first)
	go tokenRequest(second)
	var answered chan error // the held request's
	select {
	case err := <-first:
		if err != nil {
			t.Fatalf("the request that was not held failed: %s", redact(err.Error()))
		}
		answered = second
	case err := <-second:
		if err != nil {
			t.Fatalf("the request that was not held failed: %s", redact(err.Error()))
		}
		answered = first
	case <-time.After(cmdTimeout):
		t.Fatal("neither token request was answered: both held?")
	}

	r.signal(syscall.SIGTERM)
	r.waitStderr("shutting down")
	r.signal(syscall.SIGTERM)
	if code := r.wait(); code != exitFailure {
		t.Fatalf("exit code after a second SIGTERM %d, want %d\nstderr:\n%s", code, exitFailure, redact(r.stderr.String()))
	}
	if want := "fakemsi serve: second terminated during shutdown; exiting without waiting for in-flight requests\n"; !strings.HasSuffix(r.stderr.String(), want) {
		t.Errorf("stderr does not end with %q:\n%s", want, redact(r.stderr.String()))
	}
	if _, err := os.Stat(env["SSL_CERT_FILE"]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CA bundle still exists after the second signal: %v", err)
	}
	if err := testwait.Receive(t, answered, "the held request ending with fakemsi"); err == nil {
		t.Error("the held request got an answer")
	}
}

// TestServePortInUse checks that a taken port is one clear line and exit 1.
func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	for flag, listener := range map[string]string{"--entra-port": "Entra listener", "--msi-port": "managed-identity listener", "--graph-port": "Graph listener", "--arm-port": "Resource Manager listener"} {
		t.Run(flag, func(t *testing.T) {
			r := runFakemsi(t, nil, "serve", flag, itoa(port))
			if r.code != exitFailure {
				t.Fatalf("exit code %d, want %d\nstderr:\n%s", r.code, exitFailure, redact(r.stderr))
			}
			line := strings.TrimSpace(r.stderr)
			if strings.Contains(line, "\n") || !strings.Contains(line, "address already in use") || !strings.Contains(line, itoa(port)) || !strings.Contains(line, listener) {
				t.Errorf("stderr is not one line naming the port and the reason:\n%s", redact(r.stderr))
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", redact(r.stdout))
			}
		})
	}
}

// TestStartEmulatorKeepsTheListenError checks that the error serve and exec
// print (without the package prefix) still wraps the emulator's
// *ListenError.
func TestStartEmulatorKeepsTheListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e, err := startEmulator(emulator.Options{GraphPort: ln.Addr().(*net.TCPAddr).Port, Dir: t.TempDir()})
	if err == nil {
		e.Close()
		t.Fatal("started on a taken port")
	}
	var le *emulator.ListenError
	if !errors.As(err, &le) || le.Listener != emulator.ListenerGraph || le.Addr != ln.Addr().String() {
		t.Errorf("error %v: want a *emulator.ListenError for the Graph listener on %s", err, ln.Addr())
	}
	if want := "Graph listener: cannot listen on " + ln.Addr().String() + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want it to start with %q", err, want)
	}
}

// TestServeWorkloadFile checks the token file of workload mode: it exists,
// holds a JWT from the external issuer with the subject the app trusts, is
// private, and is removed on shutdown.
func TestServeWorkloadFile(t *testing.T) {
	r := startFakemsi(t, nil, "serve", "--mode", "workload")
	lines := r.waitLine("export FAKEMSI_ARM_URL=")
	var path string
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "export AZURE_FEDERATED_TOKEN_FILE="); ok {
			path = strings.Trim(v, "'")
		}
		if strings.HasPrefix(l, "export IDENTITY_") || strings.HasPrefix(l, "export MSI_") {
			t.Errorf("workload mode exports %s", redact(l))
		}
	}
	if path == "" {
		t.Fatalf("no AZURE_FEDERATED_TOKEN_FILE in %s", redact(lines))
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v", err, fi.Mode().Perm())
	}
	tok, _ := os.ReadFile(path)
	c, err := jwtClaims(string(tok))
	if err != nil || c["sub"] != fakeidp.DefaultWorkloadSubject || c["aud"] != fakeidp.TokenExchangeAudience ||
		!strings.HasSuffix(c["iss"].(string), "/issuers/"+fakeidp.DefaultWorkloadIssuer) {
		t.Errorf("token file claims iss=%v sub=%v aud=%v (%v)", c["iss"], c["sub"], c["aud"], err)
	}
	r.signal(syscall.SIGINT)
	if code := r.wait(); code != 0 {
		t.Fatalf("exit code %d\nstderr:\n%s", code, redact(r.stderr.String()))
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token file still exists after shutdown: %v", err)
	}
}
