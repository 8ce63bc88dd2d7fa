package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
	"github.com/tenantbridge/tenantbridge/internal/leak"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// testTimeout bounds every request and wait of these tests.
const testTimeout = 30 * time.Second

// jwtBearer is the client_assertion_type of a federated token request.
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// parseFault parses a fault spec, the syntax every fake shares.
func parseFault(t *testing.T, spec string) Fault {
	t.Helper()
	f, err := ParseFault(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func start(t *testing.T, opts *Options) *Emulator {
	t.Helper()
	e, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// call sends a request with the emulator's client and returns the status and
// the body.
func call(t *testing.T, e *Emulator, method, u string, header http.Header, form url.Values) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		t.Fatal(leak.Redact(err, e.IdentityHeader()))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := e.Client().Do(req)
	if err != nil {
		// The *url.Error names the method and the URL, which may hold a
		// token or the identity header.
		t.Fatal(leak.Redact(err, e.IdentityHeader()))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// managedIdentityToken asks the App Service endpoint for an assertion, as a
// Function App does.
func managedIdentityToken(t *testing.T, e *Emulator) (int, string) {
	t.Helper()
	u := e.AppServiceEndpoint() + "?api-version=2019-08-01&resource=" + url.QueryEscape(fakeidp.TokenExchangeAudience)
	status, _, body := call(t, e, "GET", u, http.Header{"X-Identity-Header": {e.IdentityHeader()}}, nil)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
			t.Fatalf("managed-identity answer without a token (%v)", err)
		}
	}
	return status, tok.AccessToken
}

// graphToken trades an assertion for a Graph token in tenant, as federated
// does, with the client ID the environment block names.
func graphToken(t *testing.T, e *Emulator, tenant string) string {
	t.Helper()
	status, assertion := managedIdentityToken(t, e)
	if status != http.StatusOK {
		t.Fatalf("managed identity answered %d", status)
	}
	status, _, body := call(t, e, "POST", e.AuthorityHost()+"/"+tenant+"/oauth2/v2.0/token", nil, url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {e.Env().Get("AZURE_CLIENT_ID")},
		"client_assertion_type": {jwtBearer},
		"client_assertion":      {assertion},
		"scope":                 {"https://graph.microsoft.com/.default"},
	})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); status != http.StatusOK || err != nil || tok.AccessToken == "" {
		t.Fatalf("token endpoint answered %d (%v): %s", status, err, leak.Redact(string(body)))
	}
	return tok.AccessToken
}

// TestStartDefaults starts with nil options and walks the whole flow over
// plain HTTP: assertion, Graph token in the consented tenant, its devices;
// every listener through Client, on loopback.
func TestStartDefaults(t *testing.T) {
	e := start(t, nil)
	if e.Mode() != ModeAppService {
		t.Errorf("mode %q, want appservice", e.Mode())
	}
	for name, u := range map[string]string{"authority": e.AuthorityHost(), "MSI": e.MSIURL(), "Graph": e.GraphURL(), "ARM": e.ARMURL()} {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		if ip := net.ParseIP(pu.Hostname()); ip == nil || !ip.IsLoopback() {
			t.Errorf("%s URL %s is not on loopback", name, u)
		}
	}
	if !strings.HasSuffix(e.GraphURL(), "/v1.0") || !strings.HasPrefix(e.GraphURL(), "https://") || !strings.HasPrefix(e.AuthorityHost(), "https://") {
		t.Errorf("authority %s, Graph %s: want HTTPS, Graph with /v1.0", e.AuthorityHost(), e.GraphURL())
	}
	if e.TokenFile() != "" {
		t.Errorf("TokenFile %q outside workload mode", e.TokenFile())
	}
	tok := graphToken(t, e, fakeidp.DefaultConsentedTenantID)
	status, _, body := call(t, e, "GET", e.GraphURL()+"/devices?$select=displayName", http.Header{"Authorization": {"Bearer " + tok}}, nil)
	var page struct {
		Value []struct{ DisplayName string }
	}
	if err := json.Unmarshal(body, &page); status != http.StatusOK || err != nil {
		t.Fatalf("Graph answered %d (%v)", status, err)
	}
	if len(page.Value) != 4 || page.Value[0].DisplayName != "FAB-DESK-001" {
		t.Errorf("devices of the consented tenant: %+v", page.Value)
	}
	// Graph fetched the signing keys to check the token, as Graph does.
	if n := len(e.IDP().Requests()); n != 3 {
		t.Errorf("fakeidp saw %d requests, want 3 (managed identity, token, Graph's keys)", n)
	}
	if n := len(e.Graph().Requests()); n != 1 {
		t.Errorf("Graph saw %d requests, want 1", n)
	}
	// CAPEM is the bundle of the HTTPS listeners' CAs (Entra, Graph, ARM),
	// and a copy.
	pem := e.CAPEM()
	if n := bytes.Count(pem, []byte("BEGIN CERTIFICATE")); n != 3 {
		t.Errorf("CAPEM holds %d certificates, want 3", n)
	}
	pem[0] = 'X'
	if e.CAPEM()[0] == 'X' {
		t.Error("CAPEM returns the emulator's own slice")
	}
	if f, _ := os.ReadFile(e.CAFile()); !bytes.Equal(f, e.CAPEM()) {
		t.Error("CAFile does not hold CAPEM")
	}
}

// TestEnvMatchesTheEmulator checks every mode's block against the accessors
// and against VarDocs: `fakemsi env` and docs/fakemsi.md describe exactly the
// variables the emulator sets.
func TestEnvMatchesTheEmulator(t *testing.T) {
	// A name may be documented once per mode that sets it (IDENTITY_ENDPOINT:
	// App Service and Arc).
	documented := map[string][]Mode{}
	for _, d := range VarDocs() {
		documented[d.Name] = append(documented[d.Name], d.Mode)
	}
	for _, mode := range Modes() {
		t.Run(string(mode), func(t *testing.T) {
			e := start(t, &Options{Mode: mode})
			env := e.Env()
			var names []string
			for _, v := range env {
				names = append(names, v.Name)
				ms, ok := documented[v.Name]
				if !ok {
					t.Errorf("sets undocumented %s", v.Name)
				}
				if !slices.Contains(ms, "") && !slices.Contains(ms, mode) {
					t.Errorf("sets %s, documented for %v modes", v.Name, ms)
				}
			}
			var wantNames []string
			for _, d := range VarDocs() {
				if d.Mode == "" || d.Mode == mode {
					wantNames = append(wantNames, d.Name)
				}
			}
			if !slices.Equal(names, wantNames) {
				t.Errorf("variables %v, want %v in VarDocs' order", names, wantNames)
			}
			tn := e.Tenancy()
			want := map[string]string{
				"AZURE_AUTHORITY_HOST":               e.AuthorityHost(),
				"AZURE_TENANT_ID":                    fakeidp.DefaultHomeTenantID,
				"AZURE_CLIENT_ID":                    fakeidp.DefaultAppClientID,
				"AZURE_ADDITIONALLY_ALLOWED_TENANTS": "*",
				"SSL_CERT_FILE":                      e.CAFile(),
				"NODE_EXTRA_CA_CERTS":                e.CAFile(),
				"REQUESTS_CA_BUNDLE":                 e.CAFile(),
				"CURL_CA_BUNDLE":                     e.CAFile(),
				"FAKEMSI_TENANTS":                    strings.Join(tn.RemoteIDs(), ","),
				"FAKEMSI_GRAPH_URL":                  e.GraphURL(),
				"TENANTBRIDGE_GRAPH_URL":             e.GraphURL(),
				"FAKEMSI_ARM_URL":                    e.ARMURL(),
				"TENANTBRIDGE_ARM_URL":               e.ARMURL(),
			}
			switch mode {
			case ModeAppService:
				want["IDENTITY_ENDPOINT"], want["IDENTITY_HEADER"] = e.AppServiceEndpoint(), e.IdentityHeader()
				want["MSI_ENDPOINT"], want["MSI_SECRET"] = e.AppServiceEndpoint(), e.IdentityHeader()
				// The default scenario's Function App, from its identity's resource ID.
				want["WEBSITE_SITE_NAME"], want["APPSETTING_WEBSITE_SITE_NAME"] = "func-tenantbridge", "func-tenantbridge"
			case ModeIMDS:
				want["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = e.IMDSEndpoint()
			case ModeWorkload:
				want["AZURE_FEDERATED_TOKEN_FILE"] = e.TokenFile()
			}
			for k, v := range want {
				if got := env.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, leak.Redact(got, e.IdentityHeader()), leak.Redact(v, e.IdentityHeader()))
				}
			}
			// Env returns a copy.
			env[0].Value = "changed"
			if e.Env()[0].Value == "changed" {
				t.Error("Env returns the emulator's own slice")
			}
		})
	}
}

// TestWorkloadTokenFile checks the token file of workload mode: a private
// JWT from the scenario's external issuer with the subject the app trusts,
// which Entra accepts; removed by Close.
func TestWorkloadTokenFile(t *testing.T) {
	e, err := Start(&Options{Mode: ModeWorkload, WorkloadTokenLifetime: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	path := e.TokenFile()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	tok, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Iss, Sub string
		Aud      any
		Exp, Iat int64
	}
	if err := jwtpeek.Claims(string(tok), &c); err != nil {
		t.Fatal(err)
	}
	if c.Iss != e.IDP().IssuerURL(fakeidp.DefaultWorkloadIssuer) || c.Sub != fakeidp.DefaultWorkloadSubject || c.Aud != fakeidp.TokenExchangeAudience && !slices.Equal(anyStrings(c.Aud), []string{fakeidp.TokenExchangeAudience}) {
		t.Errorf("token file claims iss=%s sub=%s aud=%v", c.Iss, c.Sub, c.Aud)
	}
	if life := time.Duration(c.Exp-c.Iat) * time.Second; life != 10*time.Minute {
		t.Errorf("token lifetime %s, want WorkloadTokenLifetime 10m", life)
	}
	status, _, body := call(t, e, "POST", e.AuthorityHost()+"/"+fakeidp.DefaultConsentedTenantID+"/oauth2/v2.0/token", nil, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {fakeidp.DefaultAppClientID},
		"client_assertion_type": {jwtBearer}, "client_assertion": {string(tok)},
		"scope": {"https://graph.microsoft.com/.default"},
	})
	if status != http.StatusOK {
		t.Errorf("Entra refused the token file's assertion: %d %s", status, leak.Redact(string(body)))
	}
	e.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token file still exists after Close: %v", err)
	}
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestWorkloadModeNeedsATrustedIssuer(t *testing.T) {
	sc := fakeidp.DefaultScenario()
	sc.Issuers = nil
	for i := range sc.Apps {
		sc.Apps[i].FederatedCredentials = slices.DeleteFunc(sc.Apps[i].FederatedCredentials, func(f fakeidp.FederatedCredential) bool {
			return strings.Contains(f.Issuer, "/issuers/")
		})
	}
	dir := t.TempDir()
	_, err := Start(&Options{Scenario: sc, Mode: ModeWorkload, Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "workload mode: no federated credential") {
		t.Fatalf("error %v, want the workload mode's explanation", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed Start left %d files in Dir", len(entries))
	}
}

// TestFiles checks where the files go and what Close removes: its own
// temporary directory; in a caller's Dir, its files but not the directory;
// never a caller's CAFile.
func TestFiles(t *testing.T) {
	t.Run("temporary directory", func(t *testing.T) {
		e, err := Start(&Options{Mode: ModeWorkload})
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir(e.CAFile())
		if filepath.Dir(e.TokenFile()) != dir {
			t.Errorf("CA %s and token file %s in different directories", e.CAFile(), e.TokenFile())
		}
		e.Close()
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temporary directory left after Close: %v", err)
		}
		e.Close() // a second Close is harmless
	})
	t.Run("caller's Dir", func(t *testing.T) {
		dir := t.TempDir()
		e, err := Start(&Options{Mode: ModeWorkload, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(e.CAFile()) != dir || filepath.Dir(e.TokenFile()) != dir {
			t.Errorf("files %s, %s not in Dir %s", e.CAFile(), e.TokenFile(), dir)
		}
		e.Close()
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != 0 {
			t.Errorf("Dir after Close: %d entries (%v), want it empty and present", len(entries), err)
		}
	})
	t.Run("caller's CAFile", func(t *testing.T) {
		caFile := filepath.Join(t.TempDir(), "ca.pem")
		e, err := Start(&Options{CAFile: caFile})
		if err != nil {
			t.Fatal(err)
		}
		if e.CAFile() != caFile || e.Env().Get("SSL_CERT_FILE") != caFile {
			t.Errorf("CAFile %s, SSL_CERT_FILE %s; want %s", e.CAFile(), e.Env().Get("SSL_CERT_FILE"), caFile)
		}
		e.Close()
		if _, err := os.Stat(caFile); err != nil {
			t.Errorf("Close removed the caller's CAFile: %v", err)
		}
	})
}

// TestStartPortInUse takes a port and gives it to each listener in turn: the
// error is a *ListenError naming the listener and wrapping the *net.OpError
// (graphtest's too, which it used to flatten to text), and nothing is left.
func TestStartPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		listener string
		opts     Options
	}{
		{ListenerEntra, Options{EntraPort: port}},
		{ListenerMSI, Options{MSIPort: port}},
		{ListenerGraph, Options{GraphPort: port}},
		{ListenerARM, Options{ARMPort: port}},
	} {
		t.Run(tc.listener, func(t *testing.T) {
			tc.opts.Dir = t.TempDir()
			e, err := Start(&tc.opts)
			if err == nil {
				e.Close()
				t.Fatal("Start succeeded on a taken port")
			}
			var le *ListenError
			if !errors.As(err, &le) {
				t.Fatalf("error %v (%T), want a *ListenError", err, err)
			}
			var oe *net.OpError
			if le.Listener != tc.listener || le.Addr != ln.Addr().String() || !errors.As(err, &oe) {
				t.Errorf("ListenError{Listener: %q, Addr: %q}, OpError found: %t; want %q, %q, true", le.Listener, le.Addr, oe != nil, tc.listener, ln.Addr())
			}
			msg := err.Error()
			if !strings.Contains(msg, "cannot listen on "+ln.Addr().String()) || !strings.Contains(msg, "address already in use") || strings.Count(msg, strconv.Itoa(port)) != 1 {
				t.Errorf("message %q does not name the address once and the reason", msg)
			}
			if entries, _ := os.ReadDir(tc.opts.Dir); len(entries) != 0 {
				t.Errorf("a failed Start left %d files in Dir", len(entries))
			}
		})
	}
}

func TestStartRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"mode", Options{Mode: "vm"}, `unknown mode "vm"`},
		{"port", Options{GraphPort: 70000}, "70000 is not a TCP port"},
		{"app", Options{App: "nope"}, `no app with client ID "nope"`},
		{"scenario", Options{Scenario: &fakeidp.Scenario{Tenants: []fakeidp.Tenant{{ID: ""}}}}, "tenants[0].id"},
		{"key size", Options{SigningKeyBits: 512}, "SigningKeyBits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Start(&tc.opts)
			if err == nil {
				e.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.HasPrefix(err.Error(), "emulator: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want the package prefix and %q", err, tc.want)
			}
		})
	}
}

// TestOptionsReachTheServers checks the options that shape the servers:
// faults from the first request on, token lifetime, app choice, clock.
func TestOptionsReachTheServers(t *testing.T) {
	sc := fakeidp.DefaultScenario()
	clock := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	e := start(t, &Options{
		Scenario:       sc,
		App:            fakeidp.DefaultAppClientID,
		TokenLifetime:  20 * time.Minute,
		SigningKeyBits: 1024,
		Clock:          func() time.Time { return clock },
		Faults:         []Fault{parseFault(t, "graph:429:retry-after=7:count=1"), parseFault(t, "appservice:503:count=1")},
	})
	if status, _ := managedIdentityToken(t, e); status != http.StatusServiceUnavailable {
		t.Errorf("first managed-identity request: %d, want the injected 503", status)
	}
	tok := graphToken(t, e, fakeidp.DefaultConsentedTenantID)
	var c struct{ Iat, Exp int64 }
	if err := jwtpeek.Claims(tok, &c); err != nil {
		t.Fatal(err)
	}
	if c.Iat != clock.Unix() || time.Duration(c.Exp-c.Iat)*time.Second != 20*time.Minute {
		t.Errorf("token iat %d exp %d; want the injected clock %d and a 20m lifetime", c.Iat, c.Exp, clock.Unix())
	}
	auth := http.Header{"Authorization": {"Bearer " + tok}}
	status, h, _ := call(t, e, "GET", e.GraphURL()+"/devices", auth, nil)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "7" {
		t.Errorf("first Graph request: %d Retry-After %q, want the injected 429 with 7", status, h.Get("Retry-After"))
	}
	if status, _, _ := call(t, e, "GET", e.GraphURL()+"/devices", auth, nil); status != http.StatusOK {
		t.Errorf("second Graph request: %d, want 200 once the fault is spent", status)
	}
}

// TestFaultsAndRequestsOfEveryServer checks the methods the emulator shares
// with every fake: AddFault reaches the server the endpoint names, Requests
// merges both logs in arrival order, ClearFaults and ResetRequests act on
// both.
func TestFaultsAndRequestsOfEveryServer(t *testing.T) {
	e := start(t, nil)
	tok := graphToken(t, e, fakeidp.DefaultConsentedTenantID)
	auth := http.Header{"Authorization": {"Bearer " + tok}}
	// Graph fetches fakeidp's keys on its first request; fetch them before
	// the endpoint-less fault below would refuse it.
	if status, _, _ := call(t, e, "GET", e.GraphURL()+"/devices", auth, nil); status != http.StatusOK {
		t.Fatalf("Graph answered %d", status)
	}
	e.ResetRequests()
	if n := len(e.Requests()); n != 0 {
		t.Fatalf("%d requests after ResetRequests", n)
	}

	e.AddFault(parseFault(t, "graph:503"))      // every Graph request, until cleared
	e.AddFault(parseFault(t, "appservice:500")) // every App Service request
	e.AddFault(Fault{Status: 502})              // no endpoint: every fakeidp endpoint, never Graph
	if status, _ := managedIdentityToken(t, e); status != http.StatusInternalServerError {
		t.Errorf("managed identity answered %d, want the appservice fault's 500", status)
	}
	status, _, _ := call(t, e, "GET", e.AuthorityHost()+"/"+fakeidp.DefaultHomeTenantID+"/v2.0/.well-known/openid-configuration", nil, nil)
	if status != http.StatusBadGateway {
		t.Errorf("discovery answered %d, want the endpoint-less fault's 502", status)
	}
	for range 2 {
		if status, _, _ := call(t, e, "GET", e.GraphURL()+"/devices", auth, nil); status != http.StatusServiceUnavailable {
			t.Errorf("Graph answered %d, want the graph fault's 503", status)
		}
	}
	var got []string
	for _, r := range e.Requests() {
		got = append(got, r.Listener+" "+strconv.Itoa(r.Status)+" "+r.Code)
		if (r.IDP == nil) == (r.Graph == nil) {
			t.Errorf("%s request: want exactly one server record", r.Listener)
		}
	}
	want := []string{"msi 500 ", "entra 502 temporarily_unavailable", "graph 503 ServiceUnavailable", "graph 503 ServiceUnavailable"}
	if !slices.Equal(got, want) {
		t.Errorf("Requests = %q, want %q", got, want)
	}

	e.ClearFaults()
	e.ResetRequests()
	if status, _ := managedIdentityToken(t, e); status != http.StatusOK {
		t.Errorf("managed identity answered %d after ClearFaults", status)
	}
	if status, _, _ := call(t, e, "GET", e.GraphURL()+"/devices", auth, nil); status != http.StatusOK {
		t.Errorf("Graph answered %d after ClearFaults", status)
	}
	if n := len(e.Requests()); n != 2 {
		t.Errorf("%d requests since ResetRequests, want 2", n)
	}
}

// TestLoggerSeesEveryListenerWithoutSecrets logs through Options.Logger: one
// line per request from the three listeners, and neither the identity header
// nor a token anywhere, even when a request puts them where the servers log
// (the path): the emulator's redaction is the second guard.
func TestLoggerSeesEveryListenerWithoutSecrets(t *testing.T) {
	var buf syncBuffer
	e := start(t, &Options{Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	tok := graphToken(t, e, fakeidp.DefaultConsentedTenantID)
	call(t, e, "GET", e.GraphURL()+"/devices", http.Header{"Authorization": {"Bearer " + tok}}, nil)
	call(t, e, "GET", e.MSIURL()+"/"+e.IdentityHeader(), nil, nil)
	call(t, e, "GET", e.GraphURL()+"/"+tok, nil, nil)
	e.Close() // the servers log a request after answering it: wait for them
	logs := buf.String()
	for _, want := range []string{`"listener":"msi"`, `"listener":"entra"`, `"listener":"graph"`, `"path":"/[redacted]"`, `"path":"/v1.0/[jwt redacted]"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, leak.Redact(logs, e.IdentityHeader()))
		}
	}
	if strings.Contains(logs, e.IdentityHeader()) || strings.Contains(logs, "eyJ") {
		t.Error("the log contains the identity header or a JWT")
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1": true, "127.0.0.2": true, "::1": true, "[::1]": true, "localhost": true, "LOCALHOST": true,
		"0.0.0.0": false, "::": false, "[::]": false, "": false, "192.0.2.1": false, "example.com": false, "::ffff:0.0.0.0": false} {
		if got := IsLoopbackHost(addr); got != want {
			t.Errorf("IsLoopbackHost(%q) = %t, want %t", addr, got, want)
		}
	}
}

// TestStartRefusesNonLoopback: an address that binds every interface (or
// any that is not loopback) is refused before anything listens, unless
// AllowNonLoopback says the caller means it. The allowed case is tried with
// an address of TEST-NET-1 that no interface has, so that the test binds
// nothing but loopback: it gets past the refusal and fails to listen.
func TestStartRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0", "::", "192.0.2.1", "example.com"} {
		e, err := Start(&Options{Addr: addr})
		if err == nil {
			e.Close()
			t.Fatalf("Start(Addr %q) succeeded; want ErrNonLoopback", addr)
		}
		if !errors.Is(err, ErrNonLoopback) {
			t.Errorf("Start(Addr %q): %v; want ErrNonLoopback", addr, err)
		}
	}
	var buf syncBuffer
	_, err := Start(&Options{Addr: "192.0.2.1", AllowNonLoopback: true, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	var le *ListenError
	if errors.Is(err, ErrNonLoopback) || !errors.As(err, &le) {
		t.Errorf("Start(Addr 192.0.2.1, AllowNonLoopback): %v; want a *ListenError (refusal passed, bind failed)", err)
	}
	e := start(t, &Options{Addr: "127.0.0.1", AllowNonLoopback: true})
	if !strings.HasPrefix(e.AuthorityHost(), "https://127.0.0.1:") {
		t.Errorf("authority %s", e.AuthorityHost())
	}
}

// TestShutdownGivesUpOnAHeldRequest holds a request in the managed-identity
// endpoint (an hour of latency): Shutdown with an ended context returns at
// once, files removed; the servers finish closing once the request ends.
func TestShutdownGivesUpOnAHeldRequest(t *testing.T) {
	e, err := Start(&Options{Faults: []Fault{parseFault(t, "appservice:latency=1h")}})
	if err != nil {
		t.Fatal(err)
	}
	reqCtx, cancelReq := context.WithCancel(context.Background())
	defer cancelReq()
	wrote := make(chan struct{})
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(reqCtx, trace), "GET",
		e.AppServiceEndpoint()+"?api-version=2019-08-01&resource=api://AzureADTokenExchange", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-IDENTITY-HEADER", e.IdentityHeader())
	answered := make(chan error, 1)
	go func() {
		resp, err := e.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	select {
	case <-wrote:
	case <-time.After(testTimeout):
		t.Fatal("the held request was never sent")
	}

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Shutdown(ended); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with an ended context: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(e.CAFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CA bundle left after Shutdown gave up: %v", err)
	}

	cancelReq()
	select {
	case <-answered:
	case <-time.After(testTimeout):
		t.Fatal("the held request did not end when its client gave up")
	}
	closed := make(chan struct{})
	go func() {
		e.Close() // waits for the Close that Shutdown started
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(testTimeout):
		t.Fatal("the servers did not finish closing after the held request ended")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after Close: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the servers' goroutines and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestTLSHandshakeErrorsReachTheLogger: plain text sent to either HTTPS
// listener (Entra, Graph) makes a TLS handshake error, and it reaches
// Options.Logger (what `fakemsi --log-file` writes), through the emulator's
// redaction, not the process's stderr.
func TestTLSHandshakeErrorsReachTheLogger(t *testing.T) {
	var buf syncBuffer
	e := start(t, &Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	for _, base := range []string{e.AuthorityHost(), e.GraphURL()} {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(testwait.Bound)
	for !(strings.Contains(buf.String(), `"listener":"graph"`) && strings.Contains(buf.String(), `"listener":"entra"`)) {
		if time.Now().After(deadline) {
			t.Fatalf("TLS handshake errors of both HTTPS listeners not logged within %s; log:\n%s", testwait.Bound, leak.Redact(buf.String(), e.IdentityHeader()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(buf.String(), "TLS handshake error"); n < 2 {
		t.Errorf("%d TLS handshake errors logged, want 2", n)
	}
}
