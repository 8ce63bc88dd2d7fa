package fakeidp

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Generate describes tenants by count instead of listing them, for
// scenarios of hundreds to tens of thousands of customer tenants: a
// scenario with {"generate": {"consented": 1000, "unconsented": 50,
// "devices": 200, "seed": 1}} is a few bytes where the listed form was tens
// of megabytes. The tenants, their consents to the app and their device
// counts are made when the server starts ([Server.Scenario] lists them);
// the devices themselves are made by the fake Graph when listed.
type Generate struct {
	// Consented and Unconsented are the numbers of tenants that granted the
	// app its roles and that did not.
	Consented   int `json:"consented"`
	Unconsented int `json:"unconsented"`
	// Devices is the number of devices of each generated tenant
	// ([Tenant.GeneratedDevices]).
	Devices int `json:"devices"`
	// Seed makes the tenant IDs: the same seed, the same IDs.
	Seed int64 `json:"seed"`
	// App is the client ID of the app the consented tenants consent to, with
	// every role the app defines; "" means the scenario's only multi-tenant
	// app.
	App string `json:"app,omitempty"`
}

// Bounds of Generate: a scenario is data a program reads, and a typo must
// not make a fake of a billion tenants.
const (
	maxGeneratedTenants = 100_000
	maxGeneratedDevices = 1_000_000
)

func (g *Generate) validate(s *Scenario, add func(string, ...any)) {
	if g == nil {
		return
	}
	if g.Consented < 0 || g.Unconsented < 0 || g.Consented+g.Unconsented > maxGeneratedTenants {
		add("generate: consented and unconsented must be 0 or more, together at most %d", maxGeneratedTenants)
	}
	if g.Devices < 0 || g.Devices > maxGeneratedDevices {
		add("generate.devices: must be 0 to %d", maxGeneratedDevices)
	}
	if _, err := g.app(s); err != nil {
		add("generate.app: %v", err)
	}
}

func (g *Generate) app(s *Scenario) (*App, error) {
	var found *App
	for i := range s.Apps {
		a := &s.Apps[i]
		if g.App != "" && a.ClientID == g.App {
			return a, nil
		}
		if g.App == "" && a.MultiTenant {
			if found != nil {
				return nil, fmt.Errorf("the scenario has more than one multi-tenant app; name one")
			}
			found = a
		}
	}
	if found == nil {
		if g.App != "" {
			return nil, fmt.Errorf("unknown app %q", g.App)
		}
		return nil, fmt.Errorf("the scenario has no multi-tenant app")
	}
	return found, nil
}

// GeneratedTenantID is the ID of generated tenant i (consented ones first)
// of a scenario with this seed: UUID-shaped, the same for the same seed.
func GeneratedTenantID(seed int64, i int) string {
	var in [16]byte
	binary.BigEndian.PutUint64(in[:8], uint64(seed))
	binary.BigEndian.PutUint64(in[8:], uint64(i))
	h := sha256.Sum256(in[:])
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", binary.BigEndian.Uint32(h[0:]), binary.BigEndian.Uint16(h[4:]),
		binary.BigEndian.Uint16(h[6:])&0x0fff, binary.BigEndian.Uint16(h[8:])&0x3fff|0x8000, h[10:16])
}

// expand appends the generated tenants and consents to s (a validated
// copy) and clears Generate, so that a scenario read back from
// Server.Scenario is not expanded twice.
func (s *Scenario) expand() {
	g := s.Generate
	if g == nil {
		return
	}
	s.Generate = nil
	app, err := g.app(s)
	if err != nil {
		return // Validate reported it
	}
	var roles []string
	for _, r := range app.AppRoles {
		roles = append(roles, r.Value)
	}
	for i := range g.Consented + g.Unconsented {
		id := GeneratedTenantID(g.Seed, i)
		state := "consented"
		if i >= g.Consented {
			state = "not consented"
		}
		s.Tenants = append(s.Tenants, Tenant{ID: id, DisplayName: fmt.Sprintf("Customer %d (%s)", i+1, state), GeneratedDevices: g.Devices})
		if i < g.Consented {
			s.Consents = append(s.Consents, Consent{Tenant: id, ClientID: app.ClientID, Roles: roles})
		}
	}
}
