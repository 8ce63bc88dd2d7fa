package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// The servers of this test binary. MSAL Go caches managed-identity tokens
// process-wide, so there is one fakeidp for the whole process.
var (
	idp   *fakeidp.Server
	graph *graphtest.Server
)

func TestMain(m *testing.M) {
	code, err := runTests(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func runTests(m *testing.M) (int, error) {
	var err error
	idp, err = fakeidp.New(fakeidp.DefaultScenario(), nil)
	if err != nil {
		return 1, err
	}
	defer idp.Close()
	devices := map[string][]map[string]any{}
	for _, t := range idp.Scenario().Tenants {
		for _, d := range t.Devices {
			devices[t.ID] = append(devices[t.ID], map[string]any{
				"id": d.ID, "deviceId": d.DeviceID, "displayName": d.DisplayName,
				"operatingSystem": d.OperatingSystem, "operatingSystemVersion": d.OperatingSystemVersion,
				"trustType": d.TrustType, "accountEnabled": d.AccountEnabled, "isCompliant": d.IsCompliant,
				"isManaged": d.IsManaged, "approximateLastSignInDateTime": d.ApproximateLastSignInDateTime.UTC().Format(time.RFC3339),
				"model": "not selected",
			})
		}
	}
	graph, err = graphtest.New(&graphtest.Options{KeysURL: idp.KeysURL(), Transport: idp.Client(), Devices: devices})
	if err != nil {
		return 1, err
	}
	defer graph.Close()
	// What App Service sets, and the app settings of examples/functionapp.
	for k, v := range map[string]string{
		"IDENTITY_ENDPOINT":    idp.AppServiceEndpoint(),
		"IDENTITY_HEADER":      idp.IdentityHeader(),
		"AZURE_AUTHORITY_HOST": idp.URL(),
		"AZURE_TENANT_ID":      fakeidp.DefaultHomeTenantID,
		"AZURE_CLIENT_ID":      fakeidp.DefaultAppClientID,
	} {
		os.Setenv(k, v)
	}
	return m.Run(), nil
}

// TestHandler drives the azidentity variant against fakeidp and graphtest
// and checks the answers examples/functionapp gives for the same requests.
func TestHandler(t *testing.T) {
	tenants, err := parseTenants(fakeidp.DefaultConsentedTenantID + ";" + strings.ToUpper(fakeidp.DefaultUnconsentedTenantID))
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(tenants, graph.URL()+"/v1.0", idp.Client(), graph.Client(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var consented []string // the scenario's devices of the consented tenant, in order
	for _, tn := range idp.Scenario().Tenants {
		if tn.ID == fakeidp.DefaultConsentedTenantID {
			for _, d := range tn.Devices {
				consented = append(consented, d.DisplayName)
			}
		}
	}
	if len(consented) == 0 {
		t.Fatal("the default scenario has no devices in the consented tenant")
	}
	type errBody struct {
		Code       string `json:"code"`
		ConsentURL string `json:"consentUrl"`
		AADSTS     []int  `json:"aadsts"`
		Tenant     string `json:"tenant"`
	}
	tests := []struct {
		name    string
		target  string
		faults  []graphtest.Fault
		status  int
		devices []string // display names of a 200
		err     errBody
	}{
		{name: "consented tenant", target: "/api/devices?tenant=" + fakeidp.DefaultConsentedTenantID, status: 200,
			devices: consented},
		{name: "missing tenant", target: "/api/devices", status: 400, err: errBody{Code: "missingTenant"}},
		{name: "tenant not allowed", target: "/api/devices?tenant=" + fakeidp.DefaultHomeTenantID, status: 400, err: errBody{Code: "tenantNotAllowed"}},
		{name: "not consented", target: "/api/devices?tenant=" + fakeidp.DefaultUnconsentedTenantID, status: 403, err: errBody{
			Code: "consentRequired", AADSTS: []int{700016}, Tenant: fakeidp.DefaultUnconsentedTenantID,
			ConsentURL: idp.URL() + "/" + fakeidp.DefaultUnconsentedTenantID + "/adminconsent?client_id=" + fakeidp.DefaultAppClientID,
		}},
		{name: "Graph throttles once", target: "/api/devices?tenant=" + fakeidp.DefaultConsentedTenantID,
			faults: []graphtest.Fault{{Status: 429, Header: http.Header{"Retry-After": {"0"}}, Count: 1}}, status: 200,
			devices: consented},
		{name: "Graph keeps failing", target: "/api/devices?tenant=" + fakeidp.DefaultConsentedTenantID,
			faults: []graphtest.Fault{{Status: 503, Header: http.Header{"Retry-After": {"0"}}, Count: maxRetries + 1}}, status: 502,
			err: errBody{Code: "graphError", Tenant: fakeidp.DefaultConsentedTenantID}},
		{name: "wrong method", target: "/api/devices", status: 405, err: errBody{Code: "methodNotAllowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range tt.faults {
				graph.AddFault(f)
			}
			method := "GET"
			if tt.err.Code == "methodNotAllowed" {
				method = "POST"
			}
			rr := httptest.NewRecorder()
			h.ServeHTTP(rr, httptest.NewRequest(method, tt.target, nil))
			// The leak check comes first: the status message below prints the
			// body, which must not carry a token into the test log.
			if strings.Contains(rr.Body.String(), "eyJ") {
				t.Fatal("the answer contains a JWT")
			}
			if rr.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rr.Code, tt.status, rr.Body)
			}
			if ct := rr.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.status != http.StatusOK {
				var body struct{ Error errBody }
				if err := json.Unmarshal(rr.Body.Bytes(), &body); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.err, body.Error); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				return
			}
			var body struct {
				Tenant  string
				Count   int
				Devices []map[string]any
			}
			if err := json.Unmarshal(rr.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, d := range body.Devices {
				names = append(names, fmt.Sprint(d["displayName"]))
			}
			if diff := cmp.Diff(tt.devices, names); diff != "" {
				t.Errorf("devices (-want +got):\n%s", diff)
			}
			if body.Tenant != fakeidp.DefaultConsentedTenantID || body.Count != len(tt.devices) {
				t.Errorf("tenant %q count %d", body.Tenant, body.Count)
			}
			// The selected properties of examples/functionapp, nothing else.
			var keys []string
			for k := range body.Devices[0] {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			want := strings.Split(deviceFields, ",")
			slices.Sort(want)
			if diff := cmp.Diff(want, keys); diff != "" {
				t.Errorf("device properties (-want +got):\n%s", diff)
			}
		})
	}
}
