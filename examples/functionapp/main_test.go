package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// TestNewServerFromEnvironment wires the handler the way main does: the
// credential from federated.NewFromEnvironment, reading the variables an
// App Service host sets (here the emulator's environment block).
func TestNewServerFromEnvironment(t *testing.T) {
	sc := fakeidp.DefaultScenario()
	for i := range sc.Tenants {
		if sc.Tenants[i].ID == fakeidp.DefaultConsentedTenantID {
			sc.Tenants[i].Devices = []fakeidp.Device{{ID: "d1", DisplayName: "only-device"}}
		}
	}
	emu, err := emulator.Start(&emulator.Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	// The variables an App Service host sets, as fakemsi exec sets them.
	emu.Env().Apply(t.Setenv)
	idp, graph := emu.IDP(), emu.Graph()
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
