package emulator

import (
	"errors"
	"fmt"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// Tenancy is who plays which part of the flow in a scenario: the app that
// AZURE_CLIENT_ID names, its home tenant (AZURE_TENANT_ID, where the managed
// identities live) and the tenants it reaches into (FAKEMSI_TENANTS).
type Tenancy struct {
	App  fakeidp.App
	Home fakeidp.Tenant
	// HomeRoles are the application permissions a consent in the home
	// tenant grants the app (nil without one): the roles of a token for the
	// home tenant.
	HomeRoles []string
	// Remotes are the scenario's other tenants, consented ones first, in
	// scenario order within each group: the order of FAKEMSI_TENANTS.
	Remotes []RemoteTenant
}

// RemoteTenant is a tenant other than the app's home tenant.
type RemoteTenant struct {
	fakeidp.Tenant
	// Consented reports whether the tenant's administrator consented to the
	// app; without it Entra answers AADSTS700016 there.
	Consented bool
	// Roles are the application permissions the consent grants.
	Roles []string
}

// TenancyOf picks the parts in sc. clientID chooses the app; "" means the
// first multi-tenant app, else the first app.
func TenancyOf(sc *fakeidp.Scenario, clientID string) (Tenancy, error) {
	if sc == nil {
		sc = fakeidp.DefaultScenario()
	}
	app, err := pickApp(sc, clientID)
	if err != nil {
		return Tenancy{}, err
	}
	t := Tenancy{App: app}
	var consented, other []RemoteTenant
	for _, tn := range sc.Tenants {
		roles, ok := consentOf(sc, tn.ID, app.ClientID)
		if tn.ID == app.HomeTenant {
			t.Home, t.HomeRoles = tn, roles
			continue
		}
		r := RemoteTenant{Tenant: tn, Consented: ok, Roles: roles}
		if r.Consented {
			consented = append(consented, r)
		} else {
			other = append(other, r)
		}
	}
	t.Remotes = append(consented, other...)
	return t, nil
}

// RemoteIDs returns the IDs of the remote tenants, consented first.
func (t Tenancy) RemoteIDs() []string {
	ids := make([]string, len(t.Remotes))
	for i, r := range t.Remotes {
		ids[i] = r.ID
	}
	return ids
}

// consentOf returns the roles of the consent to clientID in tenant, and
// whether there is one; of several, the last, as fakeidp reads them.
func consentOf(sc *fakeidp.Scenario, tenant, clientID string) (roles []string, ok bool) {
	for _, c := range sc.Consents {
		if c.Tenant == tenant && c.ClientID == clientID {
			roles, ok = c.Roles, true
		}
	}
	return roles, ok
}

func pickApp(sc *fakeidp.Scenario, clientID string) (fakeidp.App, error) {
	if len(sc.Apps) == 0 {
		return fakeidp.App{}, errors.New("emulator: the scenario has no app registration for AZURE_CLIENT_ID")
	}
	if clientID != "" {
		for _, a := range sc.Apps {
			if a.ClientID == clientID {
				return a, nil
			}
		}
		return fakeidp.App{}, fmt.Errorf("emulator: no app with client ID %q in the scenario", clientID)
	}
	for _, a := range sc.Apps {
		if a.MultiTenant {
			return a, nil
		}
	}
	return sc.Apps[0], nil
}
