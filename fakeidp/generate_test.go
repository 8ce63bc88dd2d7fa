package fakeidp

import (
	"strings"
	"testing"
)

func TestNewDoesNotCopyDevices(t *testing.T) {
	sc := DefaultScenario()
	srv, err := New(sc, &Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	got := srv.Scenario().Tenants[0].Devices
	if len(got) == 0 || &got[0] != &sc.Tenants[0].Devices[0] {
		t.Error("the server's scenario holds a copy of the devices; fakeidp never reads them")
	}
	// The rest is a copy: changing the caller's scenario changes nothing.
	sc.Tenants[0].DisplayName = "changed"
	if srv.Scenario().Tenants[0].DisplayName == "changed" {
		t.Error("the server's tenants are the caller's")
	}
}

func TestGenerate(t *testing.T) {
	sc := DefaultScenario()
	sc.Generate = &Generate{Consented: 3, Unconsented: 2, Devices: 7, Seed: 42}
	srv, err := New(sc, &Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	got := srv.Scenario()
	if n := len(got.Tenants) - len(sc.Tenants); n != 5 {
		t.Fatalf("%d tenants generated, want 5", n)
	}
	if got.Generate != nil {
		t.Error("the expanded scenario still has Generate: read back, it would expand twice")
	}
	consented := map[string]bool{}
	for _, c := range got.Consents {
		consented[c.Tenant] = true
	}
	for i := range 5 {
		id := GeneratedTenantID(42, i)
		tn := got.Tenants[len(sc.Tenants)+i]
		if tn.ID != id || tn.GeneratedDevices != 7 || consented[id] != (i < 3) {
			t.Errorf("generated tenant %d: %+v, consented %v", i, tn, consented[id])
		}
	}
	if GeneratedTenantID(42, 0) == GeneratedTenantID(43, 0) || GeneratedTenantID(42, 0) != GeneratedTenantID(42, 0) {
		t.Error("tenant IDs do not follow the seed")
	}
}

func TestGenerateValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    Generate
		want string
	}{
		{"negative", Generate{Consented: -1}, "generate: consented"},
		{"too many", Generate{Consented: maxGeneratedTenants + 1}, "at most"},
		{"devices", Generate{Consented: 1, Devices: -1}, "generate.devices"},
		{"unknown app", Generate{Consented: 1, App: "nope"}, `unknown app "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := DefaultScenario()
			sc.Generate = &tc.g
			err := sc.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	sc, err := ParseScenario([]byte(`{"tenants":[{"id":"t1","displayName":"x","devices":[]}],"apps":[{"clientId":"a","homeTenant":"t1","multiTenant":true}],"generate":{"consented":2,"unconsented":1,"devices":5,"seed":1}}`))
	if err != nil || sc.Generate == nil || sc.Generate.Devices != 5 {
		t.Fatalf("ParseScenario with generate: %+v, %v", sc, err)
	}
}
