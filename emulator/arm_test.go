package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/internal/fault"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// subscriptionsSeen lists the subscription IDs ARM shows to tok.
func subscriptionsSeen(t *testing.T, e *Emulator, tok string) (int, []string) {
	t.Helper()
	status, _, body := call(t, e, "GET", e.ARMURL()+"/subscriptions?api-version=2022-12-01", http.Header{"Authorization": {"Bearer " + tok}}, nil)
	var page struct {
		Value []struct {
			SubscriptionID string `json:"subscriptionId"`
			TenantID       string `json:"tenantId"`
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("ARM answered %d, not JSON: %v", status, err)
	}
	var ids []string
	for _, s := range page.Value {
		ids = append(ids, s.SubscriptionID)
	}
	return status, ids
}

// TestARM walks what `az login --identity` and an ARM SDK client on a
// federated credential do: a managed-identity token for ARM lists the home
// tenant's subscription; a token from the token endpoint in the consented
// tenant lists that tenant's; the environment block names the ARM URL.
func TestARM(t *testing.T) {
	e := start(t, nil)
	if got := e.Env().Get("FAKEMSI_ARM_URL"); got != e.ARMURL() || got == "" {
		t.Fatalf("FAKEMSI_ARM_URL = %q, want %q", got, e.ARMURL())
	}

	// The Azure CLI asks App Service's 2017-09-01 protocol for ARM's core
	// audience, with the trailing slash.
	u := e.AppServiceEndpoint() + "?api-version=2017-09-01&resource=" + url.QueryEscape("https://management.core.windows.net/")
	status, _, body := call(t, e, "GET", u, http.Header{"Secret": {e.IdentityHeader()}}, nil)
	var mi struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &mi); status != http.StatusOK || err != nil {
		t.Fatalf("managed identity for ARM: %d (%v)", status, err)
	}
	status, ids := subscriptionsSeen(t, e, mi.AccessToken)
	if diff := cmp.Diff([]string{fakeidp.DefaultHomeSubscriptionID}, ids); status != http.StatusOK || diff != "" {
		t.Errorf("managed identity sees (status %d) (-want +got):\n%s", status, diff)
	}

	status, assertion := managedIdentityToken(t, e)
	if status != http.StatusOK {
		t.Fatalf("assertion: %d", status)
	}
	status, _, body = call(t, e, "POST", e.AuthorityHost()+"/"+fakeidp.DefaultConsentedTenantID+"/oauth2/v2.0/token", nil, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {fakeidp.DefaultAppClientID},
		"client_assertion_type": {jwtBearer}, "client_assertion": {assertion},
		"scope": {"https://management.core.windows.net//.default"},
	})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); status != http.StatusOK || err != nil {
		t.Fatalf("token for ARM: %d (%v): %s", status, err, leak.Redact(string(body)))
	}
	status, ids = subscriptionsSeen(t, e, tok.AccessToken)
	if diff := cmp.Diff([]string{fakeidp.DefaultConsentedSubscriptionID}, ids); status != http.StatusOK || diff != "" {
		t.Errorf("the consented tenant sees (status %d) (-want +got):\n%s", status, diff)
	}

	// A Graph token is not an ARM token.
	if status, _ := subscriptionsSeen(t, e, graphToken(t, e, fakeidp.DefaultConsentedTenantID)); status != http.StatusUnauthorized {
		t.Errorf("Graph token at ARM: status %d, want 401", status)
	}

	// Faults and the request log reach the ARM server through the emulator.
	f, err := ParseFault("arm:503:count=1")
	if err != nil {
		t.Fatal(err)
	}
	e.AddFault(f)
	if status, _ := subscriptionsSeen(t, e, tok.AccessToken); status != http.StatusServiceUnavailable {
		t.Errorf("with an arm fault: status %d, want 503", status)
	}
	var arm []Request
	for _, r := range e.Requests() {
		if r.Listener == ListenerARM {
			arm = append(arm, r)
			if r.ARM == nil || r.IDP != nil || r.Graph != nil {
				t.Errorf("ARM record %+v: want only the ARM field set", r)
			}
		}
	}
	if len(arm) != 4 || arm[3].Status != http.StatusServiceUnavailable || arm[1].Tenant != fakeidp.DefaultConsentedTenantID {
		t.Errorf("ARM requests in the emulator's log: %+v", leak.Redact(arm))
	}
	e.AddFault(Fault{Endpoint: fault.EndpointARM, Status: 500})
	e.ClearFaults()
	if status, _ := subscriptionsSeen(t, e, tok.AccessToken); status != http.StatusOK {
		t.Errorf("after ClearFaults: status %d", status)
	}
	e.ResetRequests()
	if n := len(e.ARM().Requests()); n != 0 {
		t.Errorf("ARM kept %d requests after ResetRequests", n)
	}
}

// TestTenancyFollowsGrantedConsent: consent granted in the running emulator
// (as the admin-consent page does) shows in Tenancy.
func TestTenancyFollowsGrantedConsent(t *testing.T) {
	e := start(t, nil)
	if r := e.Tenancy().Remotes; len(r) != 2 || r[1].Consented {
		t.Fatalf("remotes at start: %+v", r)
	}
	if err := e.IDP().GrantConsent(fakeidp.DefaultUnconsentedTenantID, fakeidp.DefaultAppClientID, []string{"Device.Read.All"}); err != nil {
		t.Fatal(err)
	}
	var consented []string
	for _, r := range e.Tenancy().Remotes {
		if r.Consented && cmp.Equal(r.Roles, []string{"Device.Read.All"}) {
			consented = append(consented, r.ID)
		}
	}
	if diff := cmp.Diff([]string{fakeidp.DefaultConsentedTenantID, fakeidp.DefaultUnconsentedTenantID}, consented); diff != "" {
		t.Errorf("consented remotes after the grant (-want +got):\n%s", diff)
	}
	// The token endpoint agrees.
	graphToken(t, e, fakeidp.DefaultUnconsentedTenantID)
}
