package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// TestNewServerFromEnvironment wires the handler the way main does: the
// credential from federated.NewFromEnvironment, reading the variables an
// App Service host sets (here pointing at fakeidp).
func TestNewServerFromEnvironment(t *testing.T) {
	idp, err := fakeidp.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	graph, err := graphtest.New(&graphtest.Options{
		KeysURL:   idp.KeysURL(),
		Transport: idp.Client(),
		Devices:   map[string][]map[string]any{fakeidp.DefaultConsentedTenantID: {{"id": "d1", "displayName": "only-device"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(graph.Close)

	for k, v := range map[string]string{
		"IDENTITY_ENDPOINT":                  idp.AppServiceEndpoint(),
		"IDENTITY_HEADER":                    idp.IdentityHeader(),
		"MSI_ENDPOINT":                       "",
		"MSI_SECRET":                         "",
		"AZURE_FEDERATED_TOKEN_FILE":         "",
		"AZURE_AUTHORITY_HOST":               idp.URL(),
		"AZURE_TENANT_ID":                    fakeidp.DefaultHomeTenantID,
		"AZURE_CLIENT_ID":                    fakeidp.DefaultAppClientID,
		"AZURE_ADDITIONALLY_ALLOWED_TENANTS": "",
	} {
		t.Setenv(k, v)
	}
	settings := map[string]string{
		"ALLOWED_TENANTS":              fakeidp.DefaultConsentedTenantID,
		"GRAPH_URL":                    graph.URL() + "/v1.0",
		"FUNCTIONS_CUSTOMHANDLER_PORT": "41234",
	}
	cfg, err := configFromEnv(func(k string) string { return settings[k] })
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(cfg, idp.Client(), graph.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Addr != "127.0.0.1:41234" {
		t.Errorf("Addr = %q, want 127.0.0.1:41234 (loopback, FUNCTIONS_CUSTOMHANDLER_PORT)", srv.Addr)
	}

	w := httptest.NewRecorder()
	srv.Handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/devices?tenant="+fakeidp.DefaultConsentedTenantID, nil))
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", w.Code, redact(w.Body.String()))
	}
	var got devicesResponse
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Count != 1 || len(got.Devices) != 1 || got.Devices[0].DisplayName != "only-device" {
		t.Errorf("got %+v, want the one device of the consented tenant", got)
	}
}
