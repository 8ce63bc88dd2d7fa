package emulator

import (
	"slices"
	"time"

	"github.com/tenantbridge/tenantbridge/armtest"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// The emulator has the methods of every fake of this module (AddFault and
// ClearFaults in fault.go, Requests, ResetRequests), over all its servers, so
// that a test sharing one emulator between cases resets it in one call.

// Request is one request a listener of the emulator handled, secrets
// redacted: the fields every server records, and the server's own record for
// the rest (the token request's form, Graph's next link, ...).
type Request struct {
	Time     time.Time // when it arrived, on the servers' clock
	Listener string    // ListenerEntra, ListenerMSI, ListenerGraph or ListenerARM
	Method   string
	Path     string
	Tenant   string // the path's tenant on Entra, the token's on Graph
	Status   int    // 0 when a fault reset the connection
	Code     string // the error code of an error answer, else ""

	IDP   *fakeidp.Request   // the request on Entra or managed identity, else nil
	Graph *graphtest.Request // the request on Graph, else nil
	ARM   *armtest.Request   // the request on Resource Manager, else nil
}

// Requests returns the requests of every server in the order they arrived:
// by Time, which each server reads from its own clock (Options.Clock, and
// fakeidp's SetClockOffset moves fakeidp's), fakeidp's first among requests
// of the same instant. Each server keeps its last 10,000, fewer when they
// hold more than 4 MiB (fault.MaxBytes), with clipped values.
func (e *Emulator) Requests() []Request {
	idp, graph, arm := e.idp.Requests(), e.graph.Requests(), e.arm.Requests()
	out := make([]Request, 0, len(idp)+len(graph)+len(arm))
	for i := range idp {
		r := &idp[i]
		out = append(out, Request{Time: r.Time, Listener: r.Listener, Method: r.Method, Path: r.Path,
			Tenant: r.Tenant, Status: r.Status, Code: r.Code, IDP: r})
	}
	for i := range graph {
		r := &graph[i]
		out = append(out, Request{Time: r.Time, Listener: r.Listener, Method: r.Method, Path: r.Path,
			Tenant: r.Tenant, Status: r.Status, Code: r.Code, Graph: r})
	}
	for i := range arm {
		r := &arm[i]
		out = append(out, Request{Time: r.Time, Listener: r.Listener, Method: r.Method, Path: r.Path,
			Tenant: r.Tenant, Status: r.Status, Code: r.Code, ARM: r})
	}
	slices.SortStableFunc(out, func(a, b Request) int { return a.Time.Compare(b.Time) })
	return out
}

// ResetRequests forgets the requests every server recorded.
func (e *Emulator) ResetRequests() {
	e.idp.ResetRequests()
	e.graph.ResetRequests()
	e.arm.ResetRequests()
}
