// Package fault is the fault model every fake server of tenantbridge shares
// (fakeidp's Entra and managed-identity endpoints, graphtest's Graph): one
// [Fault] type, one spec syntax read by [Parse], a [Set] that hands faults
// to requests, [Serve] that plays one out, and the bounded [Log] behind each
// server's Requests.
//
// The fakes expose [Fault] under their own names (fakeidp.Fault and
// graphtest.Fault are aliases), so a user sees one type with one meaning of
// Count, whichever server it is added to:
//
//	f, err := fault.Parse("token:429:retry-after=2:count=3")
//	var faults fault.Set
//	faults.Add(f)
//	if f, ok := faults.Take("token", r.URL.Path); ok { fault.Serve(w, r, f, writeStatus, next) }
package fault

import (
	"net/http"
	"strings"
	"time"
)

// Fault is a scripted misbehaviour of a fake server: the next Count requests
// that match Endpoint and Path get it. A Fault is plain data; a [Set] counts
// its uses.
type Fault struct {
	// Endpoint names the requests it applies to: fakeidp's "token",
	// "openid", "keys", "discovery", "appservice", "imds", "arc", "msi" (the
	// managed-identity endpoints) or "github", graphtest's "graph" or
	// armtest's "arm". "" matches every request of the server the fault is
	// added to.
	Endpoint string
	// Path, when set, limits the fault to requests whose URL path contains
	// it, e.g. "/devices/$count" or one tenant's ID.
	Path string
	// Count is how many matching requests get the fault: 0 means every one
	// until the server's ClearFaults, n the next n. (A negative Count is
	// read as 0.)
	Count int

	// Latency is waited before answering; it combines with the effects below
	// and ends early when the client gives up.
	Latency time.Duration
	// Status, when set, answers with this status (400 to 599) and the error
	// body of the endpoint's protocol (Entra's AADSTS JSON, the
	// managed-identity endpoints' JSON, Graph's error JSON; a Graph 401 is a
	// claims challenge).
	Status int
	// RetryAfter, with Status, is sent as Retry-After in whole seconds,
	// rounded up so that a client never retries before the fault meant it
	// to. Zero sends no Retry-After.
	RetryAfter time.Duration
	// Header is added to the answer that Status or Body makes, after
	// RetryAfter: for throttling headers that RetryAfter does not write
	// ("Retry-After: 0", an HTTP date, x-ms-retry-after-ms).
	Header http.Header
	// Claims, with Status 401 on Graph, is the claims JSON of the Continuous
	// Access Evaluation challenge; empty means a typical one that asks for a
	// token issued after now.
	Claims string
	// Body damages the answer instead of Status: [BodyReset] closes the
	// connection without an answer; [BodyTruncated], [BodyMalformed] and
	// [BodyOversize] send the real answer cut in half, as broken JSON, or
	// padded to [OversizeBytes].
	Body string
}

// Body kinds of a [Fault].
const (
	BodyReset     = "reset"
	BodyTruncated = "truncated"
	BodyMalformed = "malformed"
	BodyOversize  = "oversize"
)

// OversizeBytes is the size of a [BodyOversize] answer: more than the 10 MiB
// that careful clients read.
const OversizeBytes = 11 << 20

// Endpoints of the fakes, as a [Fault]'s Endpoint and a spec's first part
// name them.
const (
	EndpointToken      = "token"      // fakeidp: POST /{tenant}/oauth2/v2.0/token
	EndpointOpenID     = "openid"     // fakeidp: /{tenant}/v2.0/.well-known/openid-configuration
	EndpointKeys       = "keys"       // fakeidp: JWKS documents
	EndpointDiscovery  = "discovery"  // fakeidp: /common/discovery/instance
	EndpointAppService = "appservice" // fakeidp: /msi/token
	EndpointIMDS       = "imds"       // fakeidp: /metadata/identity/oauth2/token
	EndpointArc        = "arc"        // fakeidp: /arc/metadata/identity/oauth2/token (Azure Arc)
	EndpointMSI        = "msi"        // fakeidp: the managed-identity endpoints (App Service, IMDS, Arc)
	EndpointGitHub     = "github"     // fakeidp: /github/{issuer}/idtoken (GitHub Actions token request)
	EndpointGraph      = "graph"      // graphtest: every Graph request
	EndpointARM        = "arm"        // armtest: every Azure Resource Manager request
)

// endpoints are the names a spec may start with, in the order error messages
// list them.
var endpoints = []string{
	EndpointToken, EndpointOpenID, EndpointKeys, EndpointDiscovery,
	EndpointAppService, EndpointIMDS, EndpointArc, EndpointMSI, EndpointGitHub, EndpointGraph, EndpointARM,
}

// matches tells whether a request to endpoint (a server's own name for what
// it serves: never "msi" or "") with this URL path gets f.
func (f *Fault) matches(endpoint, path string) bool {
	switch {
	case f.Endpoint == "" || f.Endpoint == endpoint:
	case f.Endpoint == EndpointMSI && (endpoint == EndpointAppService || endpoint == EndpointIMDS || endpoint == EndpointArc):
	default:
		return false
	}
	return f.Path == "" || strings.Contains(path, f.Path)
}
