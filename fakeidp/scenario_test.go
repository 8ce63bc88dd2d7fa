package fakeidp

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultScenario(t *testing.T) {
	sc := DefaultScenario()
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultScenario(), sc); diff != "" {
		t.Errorf("DefaultScenario is not deterministic (-want +got):\n%s", diff)
	}
	var tenants []string
	for _, tn := range sc.Tenants {
		tenants = append(tenants, tn.ID)
		if n := len(tn.Devices); n < 3 || n > 5 {
			t.Errorf("tenant %s has %d devices, want 3-5", tn.ID, n)
		}
	}
	if diff := cmp.Diff([]string{DefaultHomeTenantID, DefaultConsentedTenantID, DefaultUnconsentedTenantID}, tenants); diff != "" {
		t.Errorf("tenant order (-want +got):\n%s", diff)
	}
	s := newServer(t, sc, &Options{NoListener: true})
	for _, f := range s.Scenario().Apps[0].FederatedCredentials {
		if strings.Contains(f.Issuer, AuthorityPlaceholder) || !strings.HasPrefix(f.Issuer, s.URL()+"/") {
			t.Errorf("credential %s: issuer %q not expanded", f.Name, f.Issuer)
		}
	}
	if !strings.Contains(sc.Apps[0].FederatedCredentials[0].Issuer, AuthorityPlaceholder) {
		t.Error("New changed the caller's scenario")
	}
}

func TestParseScenarioRoundTrip(t *testing.T) {
	b, err := json.Marshal(DefaultScenario())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"managedIdentities"`, `"federatedCredentials"`, `"approximateLastSignInDateTime"`, `"operatingSystemVersion"`, `"clientId"`, `"objectId"`, `"resourceId"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	got, err := ParseScenario(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultScenario(), got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestParseScenarioErrors(t *testing.T) {
	fic := func(name, issuer string) string {
		return fmt.Sprintf(`{"name":%q,"issuer":%q,"subject":"s","audiences":["api://AzureADTokenExchange"]}`, name, issuer)
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = fic(fmt.Sprint("f", i), "https://i")
	}
	tenant := `"tenants":[{"id":"t1"}]`
	tests := []struct {
		name string
		json string
		want string
	}{
		{name: "empty issuer", json: `{` + tenant + `,"apps":[{"clientId":"a","homeTenant":"t1","federatedCredentials":[` + fic("a", "x") + `,` + fic("b", "x") + `,` + fic("c", "") + `]}]}`, want: "apps[0].federatedCredentials[2].issuer: empty"},
		{name: "21 credentials", json: `{` + tenant + `,"apps":[{"clientId":"a","homeTenant":"t1","federatedCredentials":[` + strings.Join(many, ",") + `]}]}`, want: "apps[0].federatedCredentials: 21 credentials, Entra allows at most 20"},
		{name: "type error", json: `{"tenants":[{"id":"t1"},{"id":7}]}`, want: "tenants[1].id: cannot use JSON number"},
		{name: "nested type error", json: `{"apps":[{"clientId":"a","federatedCredentials":[{"name":"x"},{"name":"y","audiences":"api://AzureADTokenExchange"}]}]}`, want: "apps[0].federatedCredentials[1].audiences: cannot use JSON string"},
		{name: "type error after arrays", json: `{"tenants":[{"id":"t1","devices":[{"id":"d"}]}],"apps":[],"consents":[{"tenant":"t1","roles":[1]}]}`, want: "consents[0].roles[0]: cannot use JSON number"},
		{name: "unknown field", json: `{"tenant":[]}`, want: `unknown field "tenant"`},
		{name: "unknown home tenant", json: `{` + tenant + `,"apps":[{"clientId":"a","homeTenant":"t2"}]}`, want: `apps[0].homeTenant: unknown tenant "t2"`},
		{name: "duplicate tenant", json: `{"tenants":[{"id":"t1"},{"id":"t1"}]}`, want: `tenants[1].id: duplicate "t1"`},
		{name: "reserved tenant", json: `{"tenants":[{"id":"common"}]}`, want: `tenants[0].id: "common" cannot be a tenant ID`},
		{name: "consent of unknown role", json: `{` + tenant + `,"apps":[{"clientId":"a","homeTenant":"t1","appRoles":[{"id":"r","value":"Device.Read.All"}]}],"consents":[{"tenant":"t1","clientId":"a","roles":["User.Read.All"]}]}`, want: `consents[0].roles[0]: "User.Read.All" is not one of the app's appRoles`},
		{name: "consent of single-tenant app elsewhere", json: `{"tenants":[{"id":"t1"},{"id":"t2"}],"apps":[{"clientId":"a","homeTenant":"t1"}],"consents":[{"tenant":"t2","clientId":"a"}]}`, want: "consents[0].tenant: app \"a\" is single-tenant"},
		{name: "identity kind", json: `{` + tenant + `,"managedIdentities":[{"kind":"group","objectId":"o","clientId":"c","homeTenant":"t1"}]}`, want: `managedIdentities[0].kind: "group" is neither`},
		{name: "user identity without resource", json: `{` + tenant + `,"managedIdentities":[{"kind":"user","objectId":"o","clientId":"c","homeTenant":"t1"}]}`, want: "managedIdentities[0].resourceId: empty"},
		{name: "issuer name", json: `{"issuers":[{"name":"a/b"}]}`, want: `issuers[0].name: "a/b" must be one URL path segment`},
		{name: "trailing data", json: `{}{}`, want: "trailing data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	sc := &Scenario{Tenants: []Tenant{{ID: ""}}, Apps: []App{{ClientID: "", HomeTenant: "x"}}}
	err := sc.Validate()
	ve, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("error %T, want *ValidationError", err)
	}
	want := []string{"tenants[0].id: empty", "apps[0].clientId: empty", `apps[0].homeTenant: unknown tenant "x"`}
	if diff := cmp.Diff(want, ve.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if _, err := New(sc, &Options{NoListener: true}); err == nil {
		t.Error("New accepted an invalid scenario")
	}
}
