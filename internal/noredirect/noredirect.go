// Package noredirect builds the HTTP client of a request that carries a
// credential (a client assertion, an identity header): it never follows a
// redirect, because following one would send the credential wherever the
// Location header points, and neither Entra's token endpoint nor a
// managed-identity endpoint redirects. The 3xx answer is returned as it came.
// It is the one implementation of that rule for assertion and federated.
//
//	hc := noredirect.Client(opts.Transport, noredirect.Defaults{Timeout: 30 * time.Second, Direct: true})
package noredirect

import (
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Refuse is the CheckRedirect of every client this package builds: the
// redirect is not followed and its response is returned.
func Refuse(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Defaults describe the client built when the caller gave no transport (nil,
// or a nil *http.Client).
type Defaults struct {
	// Timeout bounds one request, reading the response included; 0 means
	// none.
	Timeout time.Duration
	// Direct sends without a proxy, whatever HTTP_PROXY says: a
	// managed-identity endpoint is local to the host, and a proxy would
	// receive its identity header.
	Direct bool
}

// Client returns the *http.Client to send with. A nil t gets a new client as
// d says; an *http.Client is copied (the caller's is left as it was) with
// [Refuse] as its CheckRedirect; any other [policy.Transporter] becomes the
// transport of a new client, so that the redirect rule applies to what it
// returns too.
func Client(t policy.Transporter, d Defaults) *http.Client {
	var hc http.Client
	switch t := t.(type) {
	case nil:
		hc = d.client()
	case *http.Client:
		if t == nil { // a nil *http.Client in the interface means the default too
			hc = d.client()
		} else {
			hc = *t
		}
	default:
		hc.Transport = transporterRoundTripper{t}
	}
	hc.CheckRedirect = Refuse
	return &hc
}

// Transport is [Client] for a caller whose requests go through an azcore
// pipeline, which takes a Transporter: nil and an *http.Client give what
// Client gives, but any other Transporter is returned as is. It is the
// caller's own sender, beneath the pipeline, and wrapping it in an
// http.Client would change what it answers (errors wrapped in *url.Error, a
// nil response refused).
func Transport(t policy.Transporter, d Defaults) policy.Transporter {
	switch t.(type) {
	case nil, *http.Client:
		return Client(t, d)
	}
	return t
}

func (d Defaults) client() http.Client {
	hc := http.Client{Timeout: d.Timeout}
	if d.Direct {
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			dt = dt.Clone()
			dt.Proxy = nil
			hc.Transport = dt
		}
	}
	return hc
}

// transporterRoundTripper lets an http.Client send through a
// [policy.Transporter], so that the client's redirect policy applies to what
// the transporter returns.
type transporterRoundTripper struct{ t policy.Transporter }

func (r transporterRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	return r.t.Do(req)
}
