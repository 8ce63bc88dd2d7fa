package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// env is the whole flow in process: the emulator (fake Entra, managed
// identity and Graph), the real federated credential and graphlite, and the
// handler under test.
type env struct {
	idp     *fakeidp.Server
	graph   *graphtest.Server
	handler http.Handler
	srv     *httptest.Server

	mu      sync.Mutex
	secrets []string     // every assertion the credential obtained, and the identity header
	log     bytes.Buffer // the handler's log, guarded by mu
}

// Write lets env be the handler's log output.
func (e *env) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log.Write(p)
}

func newEnv(t testing.TB, allowed []string, mods ...func(*deps)) *env {
	t.Helper()
	return newEnvWith(t, nil, allowed, mods...)
}

// newEnvWith is newEnv on a scenario of its own (nil: the default one).
func newEnvWith(t testing.TB, sc *fakeidp.Scenario, allowed []string, mods ...func(*deps)) *env {
	t.Helper()
	emu, err := emulator.Start(&emulator.Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	idp, graph := emu.IDP(), emu.Graph()

	e := &env{idp: idp, graph: graph, secrets: []string{idp.IdentityHeader()}}
	msi, err := assertion.AppService(&assertion.AppServiceOptions{
		Endpoint:       idp.AppServiceEndpoint(),
		IdentityHeader: idp.IdentityHeader(),
		Transport:      idp.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	recording := assertion.Func(func(ctx context.Context) (assertion.Assertion, error) {
		a, err := msi.Assertion(ctx)
		if err == nil {
			e.mu.Lock()
			e.secrets = append(e.secrets, a.Token)
			e.mu.Unlock()
		}
		return a, err
	})
	cred, err := federated.NewCredential(fakeidp.DefaultHomeTenantID, fakeidp.DefaultAppClientID, recording, &federated.Options{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: idp.URL()},
			Transport: idp.Client(),
		},
		AdditionallyAllowedTenants: allowed,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := deps{
		Cred:    cred,
		Tenants: allowed,
		Graph: &graphlite.Options{
			BaseURL:       graph.URL() + "/v1.0",
			ClientOptions: azcore.ClientOptions{Transport: graph.Client()},
		},
		Log: slog.New(slog.NewJSONHandler(e, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mods {
		m(&d)
	}
	h, err := newHandler(d)
	if err != nil {
		t.Fatal(err)
	}
	e.handler = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// get calls the handler and checks what every answer must satisfy: JSON, no
// caching, and no token, assertion or identity header in the body.
func (e *env) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	// Every token here is a JWT, and every JWT starts with the base64url of
	// `{"`: any "eyJ" in a body would be a leaked token.
	if strings.Contains(string(body), "eyJ") {
		t.Error("the response body contains a JWT")
	}
	e.mu.Lock()
	for _, s := range e.secrets {
		if strings.Contains(string(body), s) {
			t.Error("the response body contains an assertion or the identity header")
		}
		if strings.Contains(e.log.String(), s) {
			t.Error("the handler's log contains an assertion or the identity header")
		}
	}
	if strings.Contains(e.log.String(), "eyJ") {
		t.Error("the handler's log contains a JWT")
	}
	e.mu.Unlock()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("the body is not a JSON object: %v", err)
	}
	return resp.StatusCode, v
}

func errorOf(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	if !ok {
		t.Fatalf("the body has no error object: %s", redact(body))
	}
	return e
}

func TestDevicesConsentedTenant(t *testing.T) {
	e := newEnv(t, []string{fakeidp.DefaultConsentedTenantID, fakeidp.DefaultUnconsentedTenantID})
	status, body := e.get(t, "/api/devices?tenant="+fakeidp.DefaultConsentedTenantID)
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", status, e.redact(body))
	}
	var want []string
	for _, tn := range e.idp.Scenario().Tenants {
		if tn.ID == fakeidp.DefaultConsentedTenantID {
			for _, d := range tn.Devices {
				want = append(want, d.DisplayName)
			}
		}
	}
	var got []string
	devices, _ := body["devices"].([]any)
	for _, d := range devices {
		got = append(got, d.(map[string]any)["displayName"].(string))
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("device names (-want +got):\n%s", diff)
	}
	if body["tenant"] != fakeidp.DefaultConsentedTenantID {
		t.Errorf("tenant = %v, want %s", body["tenant"], fakeidp.DefaultConsentedTenantID)
	}
	if n, _ := body["count"].(float64); int(n) != len(want) {
		t.Errorf("count = %v, want %d", body["count"], len(want))
	}
	if len(want) == 0 {
		t.Fatal("the scenario has no devices in the consented tenant")
	}

	// A second request is served with the cached token: Graph again, Entra not.
	entraBefore := countTokenRequests(e.idp)
	if status, body := e.get(t, "/api/devices?tenant="+strings.ToUpper(fakeidp.DefaultConsentedTenantID)); status != http.StatusOK {
		t.Fatalf("second request: status = %d, want 200; body %s", status, e.redact(body))
	}
	if n := countTokenRequests(e.idp) - entraBefore; n != 0 {
		t.Errorf("second request made %d token request(s); want 0 (cached)", n)
	}
}

func countTokenRequests(idp *fakeidp.Server) int {
	n := 0
	for _, r := range idp.Requests() {
		if strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
			n++
		}
	}
	return n
}

func TestDevicesUnconsentedTenant(t *testing.T) {
	e := newEnv(t, []string{fakeidp.DefaultConsentedTenantID, fakeidp.DefaultUnconsentedTenantID})
	status, body := e.get(t, "/api/devices?tenant="+fakeidp.DefaultUnconsentedTenantID)
	if status != http.StatusForbidden {
		t.Fatalf("status = %d, want 403; body %s", status, e.redact(body))
	}
	got := errorOf(t, body)
	if got["code"] != "consentRequired" {
		t.Errorf("error.code = %v, want consentRequired", got["code"])
	}
	if codes, _ := got["aadsts"].([]any); !slices.Contains(codes, any(float64(700016))) {
		t.Errorf("error.aadsts = %v, want it to contain 700016", got["aadsts"])
	}
	hint, _ := got["hint"].(string)
	if !strings.Contains(hint, "consent") {
		t.Errorf("error.hint = %q, want it to explain consent", hint)
	}
	wantURL := e.idp.URL() + "/" + fakeidp.DefaultUnconsentedTenantID + "/adminconsent?client_id=" + fakeidp.DefaultAppClientID
	if got["consentUrl"] != wantURL {
		t.Errorf("error.consentUrl = %v, want %s", got["consentUrl"], wantURL)
	}
	if got["tenant"] != fakeidp.DefaultUnconsentedTenantID {
		t.Errorf("error.tenant = %v, want %s", got["tenant"], fakeidp.DefaultUnconsentedTenantID)
	}
	if n := len(e.graph.Requests()); n != 0 {
		t.Errorf("Graph saw %d request(s); want none without a token", n)
	}
}

func TestDevicesBadRequests(t *testing.T) {
	tests := []struct {
		name, path string
		status     int
		code       string
	}{
		{"missing tenant", "/api/devices", http.StatusBadRequest, "missingTenant"},
		{"empty tenant", "/api/devices?tenant=", http.StatusBadRequest, "missingTenant"},
		{"tenant not allowed", "/api/devices?tenant=" + fakeidp.DefaultUnconsentedTenantID, http.StatusBadRequest, "tenantNotAllowed"},
		{"home tenant not listed", "/api/devices?tenant=" + fakeidp.DefaultHomeTenantID, http.StatusBadRequest, "tenantNotAllowed"},
		{"path injection", "/api/devices?tenant=" + fakeidp.DefaultConsentedTenantID + "%2F..%2Fcommon", http.StatusBadRequest, "tenantNotAllowed"},
		{"unknown path", "/api/other", http.StatusNotFound, "notFound"},
	}
	e := newEnv(t, []string{fakeidp.DefaultConsentedTenantID}) // the unconsented tenant is not allowed here
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.idp.ResetRequests()
			status, body := e.get(t, tt.path)
			if status != tt.status {
				t.Errorf("status = %d, want %d; body %s", status, tt.status, e.redact(body))
			}
			if got := errorOf(t, body)["code"]; got != tt.code {
				t.Errorf("error.code = %v, want %s", got, tt.code)
			}
			// Rejected before any request: neither the managed identity nor
			// Entra nor Graph hears of it.
			if rs := e.idp.Requests(); len(rs) != 0 {
				t.Errorf("fakeidp saw %d request(s), want none: %+v", len(rs), rs)
			}
			if rs := e.graph.Requests(); len(rs) != 0 {
				t.Errorf("Graph saw %d request(s), want none", len(rs))
			}
		})
	}
}

func TestDevicesMethodNotAllowed(t *testing.T) {
	e := newEnv(t, []string{fakeidp.DefaultConsentedTenantID})
	resp, err := http.Post(e.srv.URL+"/api/devices?tenant="+fakeidp.DefaultConsentedTenantID, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d, want 405", resp.StatusCode)
	}
	if got := resp.Header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow = %q, want GET, HEAD", got)
	}
}

func TestDevicesTruncated(t *testing.T) {
	e := newEnv(t, []string{fakeidp.DefaultConsentedTenantID}, func(d *deps) { d.MaxDevices = 2 })
	status, body := e.get(t, "/api/devices?tenant="+fakeidp.DefaultConsentedTenantID)
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", status, e.redact(body))
	}
	if body["truncated"] != true || body["count"] != float64(2) || len(body["devices"].([]any)) != 2 {
		t.Errorf("truncated = %v, count = %v, %d devices; want true, 2, 2", body["truncated"], body["count"], len(body["devices"].([]any)))
	}
}

func TestClassify(t *testing.T) {
	consent := &federated.AuthError{
		StatusCode: 400, Code: "unauthorized_client", ErrorCodes: []int{700016},
		Message: "AADSTS700016: Application not found in the directory", TraceID: "t1", CorrelationID: "c1",
		Tenant: "tenant-b", ClientID: "app-1", Authority: "https://login.microsoftonline.com", Hint: "consent hint",
	}
	fic := &federated.AuthError{StatusCode: 400, Code: "invalid_client", ErrorCodes: []int{700213}, Message: "AADSTS700213: No matching federated identity record found", Hint: "subject hint"}
	tests := []struct {
		name       string
		err        error
		wantStatus int
		want       apiError
	}{
		{"not consented", fmt.Errorf("wrapped by azcore: %w", consent), http.StatusForbidden, apiError{
			Code: "consentRequired", Message: consent.Message, Hint: "consent hint", AADSTS: []int{700016}, TraceID: "t1", CorrelationID: "c1",
			ConsentURL: "https://login.microsoftonline.com/tenant-b/adminconsent?client_id=app-1",
		}},
		{"federated credential mismatch", fic, http.StatusBadGateway, apiError{Code: "authFailed", Message: fic.Message, Hint: "subject hint", AADSTS: []int{700213}}},
		{"Graph: permission missing", &graphlite.Error{StatusCode: 403, Code: "Authorization_RequestDenied", Message: "Insufficient privileges", Hint: "needs Device.Read.All", RequestID: "r1"}, http.StatusForbidden, apiError{
			Code: "consentRequired", Message: "Authorization_RequestDenied: Insufficient privileges", Hint: "needs Device.Read.All", RequestID: "r1",
		}},
		{"Graph: outage", &graphlite.Error{StatusCode: 503, Code: "serviceNotAvailable", Message: "try later"}, http.StatusBadGateway, apiError{Code: "graphError", Message: "serviceNotAvailable: try later"}},
		{"timeout", fmt.Errorf("graphlite: GET /devices: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, apiError{Code: "timeout", Message: "listing the devices took too long"}},
		{"no managed identity", errors.New("federated: getting the client assertion: assertion: AppService: GET http://127.0.0.1:1/msi/token: connection refused\nsecond line"), http.StatusBadGateway, apiError{
			Code: "upstreamFailed", Message: "federated: getting the client assertion: assertion: AppService: GET http://127.0.0.1:1/msi/token: connection refused",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := classify(tt.err)
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("classify() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDevicesConsentWithoutPermission(t *testing.T) {
	// The consented tenant granted the app nothing: Entra issues a token
	// without roles, and Graph answers 403 Authorization_RequestDenied.
	sc := fakeidp.DefaultScenario()
	for i := range sc.Consents {
		if sc.Consents[i].Tenant == fakeidp.DefaultConsentedTenantID {
			sc.Consents[i].Roles = nil
		}
	}
	e := newEnvWith(t, sc, []string{fakeidp.DefaultConsentedTenantID})
	status, body := e.get(t, "/api/devices?tenant="+fakeidp.DefaultConsentedTenantID)
	if status != http.StatusForbidden {
		t.Fatalf("status = %d, want 403; body %s", status, e.redact(body))
	}
	got := errorOf(t, body)
	if got["code"] != "consentRequired" {
		t.Errorf("error.code = %v, want consentRequired", got["code"])
	}
	if hint, _ := got["hint"].(string); !strings.Contains(hint, "Device.Read.All") {
		t.Errorf("error.hint = %q, want it to name Device.Read.All", hint)
	}
}
