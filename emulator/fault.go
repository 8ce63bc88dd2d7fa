package emulator

import (
	"fmt"

	"github.com/tenantbridge/tenantbridge/internal/fault"
)

// Fault is the fault model every fake of this module shares (fakeidp.Fault
// and graphtest.Fault are the same type): the next Count requests (Count 0:
// every one until [Emulator.ClearFaults]) to Endpoint whose path contains
// Path wait Latency, then get Status with the endpoint's error body, or their
// real answer damaged as Body says. Its Endpoint also picks the server:
// "graph" is the fake Graph, "arm" the fake Resource Manager; "token", "openid", "keys", "discovery",
// "appservice", "imds", "msi" and "" (all of them) are fakeidp's.
type Fault = fault.Fault

// ParseFault reads the command-line form of a [Fault], the syntax of
// fakemsi's --fault and its config's faults, for every endpoint of the
// emulator: an endpoint ("token", "openid", "keys", "discovery",
// "appservice", "imds", "msi", "graph", "arm", or "*" for every Entra and
// managed-identity endpoint), then colon-separated items: a status code,
// "claims" (graph only), "reset", "latency=DURATION",
// "retry-after=SECONDS|DURATION", "count=N" (0 or none: until cleared),
// "body=truncated|malformed|oversize", "path=TEXT". Examples:
// "token:429:retry-after=2:count=3", "imds:410:count=2", "msi:reset",
// "graph:claims:count=1", "graph:503:path=/devices/$count".
//
// An error names the spec, the item that is wrong and what to write
// instead; docs/fakemsi.md lists every item.
func ParseFault(spec string) (Fault, error) {
	f, err := fault.Parse(spec)
	if err != nil {
		return Fault{}, fmt.Errorf("emulator: %w", err)
	}
	return f, nil
}

// AddFault scripts a fault on the server its Endpoint names: "graph" on the
// fake Graph, "arm" on the fake Resource Manager, any other endpoint ("token", "imds", ...; "" for all of them)
// on fakeidp. [ParseFault] reads the spec syntax of `fakemsi --fault`.
func (e *Emulator) AddFault(f Fault) {
	switch f.Endpoint {
	case fault.EndpointGraph:
		e.graph.AddFault(f)
		return
	case fault.EndpointARM:
		e.arm.AddFault(f)
		return
	}
	e.idp.AddFault(f)
}

// ClearFaults removes every scripted fault of every server.
func (e *Emulator) ClearFaults() {
	e.idp.ClearFaults()
	e.graph.ClearFaults()
	e.arm.ClearFaults()
}
