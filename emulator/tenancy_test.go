package emulator

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/fakeidp"
)

func TestTenancyOf(t *testing.T) {
	// A scenario whose tenants are listed not-consented first, to see the
	// consented ones move to the front, and with a second app.
	sc := fakeidp.DefaultScenario()
	sc.Tenants = append(sc.Tenants[:1:1], sc.Tenants[2], sc.Tenants[1])
	single := fakeidp.App{ClientID: "single", DisplayName: "single-tenant", HomeTenant: fakeidp.DefaultConsentedTenantID}
	sc.Apps = append([]fakeidp.App{single}, sc.Apps...)

	tests := []struct {
		name      string
		sc        *fakeidp.Scenario
		clientID  string
		wantApp   string
		wantHome  string
		wantOrder []string
		wantErr   string
	}{
		{name: "default", sc: nil, wantApp: fakeidp.DefaultAppClientID, wantHome: fakeidp.DefaultHomeTenantID,
			wantOrder: []string{fakeidp.DefaultConsentedTenantID, fakeidp.DefaultUnconsentedTenantID}},
		{name: "first multi-tenant app, consented first", sc: sc, wantApp: fakeidp.DefaultAppClientID, wantHome: fakeidp.DefaultHomeTenantID,
			wantOrder: []string{fakeidp.DefaultConsentedTenantID, fakeidp.DefaultUnconsentedTenantID}},
		{name: "app chosen by client ID", sc: sc, clientID: "single", wantApp: "single", wantHome: fakeidp.DefaultConsentedTenantID,
			wantOrder: []string{fakeidp.DefaultHomeTenantID, fakeidp.DefaultUnconsentedTenantID}},
		{name: "unknown app", sc: sc, clientID: "nope", wantErr: `no app with client ID "nope"`},
		{name: "no app", sc: &fakeidp.Scenario{Tenants: sc.Tenants}, wantErr: "no app registration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TenancyOf(tt.sc, tt.clientID)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.App.ClientID != tt.wantApp || got.Home.ID != tt.wantHome {
				t.Errorf("app %s home %s, want %s %s", got.App.ClientID, got.Home.ID, tt.wantApp, tt.wantHome)
			}
			if diff := cmp.Diff(tt.wantOrder, got.RemoteIDs()); diff != "" {
				t.Errorf("remote tenants (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTenancyOfConsent(t *testing.T) {
	got, err := TenancyOf(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, r := range got.Remotes {
		summary = append(summary, r.ID+" "+strings.Join(r.Roles, ",")+" "+map[bool]string{true: "consented", false: "not consented"}[r.Consented])
	}
	want := []string{
		fakeidp.DefaultConsentedTenantID + " Device.Read.All consented",
		fakeidp.DefaultUnconsentedTenantID + "  not consented",
	}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("remote tenants (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Device.Read.All"}, got.HomeRoles); diff != "" {
		t.Errorf("home roles (-want +got):\n%s", diff)
	}
}
