package noredirect

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// redirectServer answers every request but /target with a 307 to /target,
// and counts the requests that reach /target.
func redirectServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var followed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/target" {
			followed.Add(1)
			return
		}
		http.Redirect(w, r, "/target", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	return srv, &followed
}

type transporter struct{ rt http.RoundTripper }

func (tr transporter) Do(req *http.Request) (*http.Response, error) { return tr.rt.RoundTrip(req) }

func TestClientRefusesRedirects(t *testing.T) {
	srv, followed := redirectServer(t)
	caller := srv.Client()
	cases := []struct {
		name string
		t    policy.Transporter
	}{
		{"nil", nil},
		{"nil *http.Client", (*http.Client)(nil)},
		{"the caller's *http.Client", caller},
		{"another Transporter", transporter{http.DefaultTransport}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hc := Client(tc.t, Defaults{Timeout: time.Minute})
			resp, err := hc.Get(srv.URL + "/token")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusTemporaryRedirect {
				t.Errorf("status %d, want the 307 itself", resp.StatusCode)
			}
		})
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests, want 0", n)
	}
	if caller.CheckRedirect != nil {
		t.Error("the caller's http.Client was modified")
	}
}

func TestDefaults(t *testing.T) {
	for _, d := range []Defaults{{}, {Timeout: 30 * time.Second, Direct: true}, {Timeout: 2 * time.Minute}} {
		for _, nilT := range []policy.Transporter{nil, (*http.Client)(nil)} {
			hc := Client(nilT, d)
			if hc.Timeout != d.Timeout {
				t.Errorf("%+v: Timeout %v, want %v", d, hc.Timeout, d.Timeout)
			}
			if hc.CheckRedirect == nil || !errors.Is(hc.CheckRedirect(nil, nil), http.ErrUseLastResponse) {
				t.Errorf("%+v: the default client follows redirects", d)
			}
			tr, _ := hc.Transport.(*http.Transport)
			switch {
			case d.Direct && (tr == nil || tr.Proxy != nil):
				t.Errorf("%+v: the default client may use a proxy", d)
			case !d.Direct && hc.Transport != nil:
				t.Errorf("%+v: transport %T, want http.DefaultTransport (nil)", d, hc.Transport)
			}
		}
	}
}

func TestTransport(t *testing.T) {
	other := transporter{http.DefaultTransport}
	if got := Transport(other, Defaults{}); got != policy.Transporter(other) {
		t.Errorf("Transport(%T) = %T, want it unchanged", other, got)
	}
	caller := &http.Client{Timeout: time.Second}
	hc, ok := Transport(caller, Defaults{}).(*http.Client)
	if !ok || hc == caller || hc.Timeout != time.Second || hc.CheckRedirect == nil {
		t.Errorf("Transport(*http.Client) = %#v, want a copy that refuses redirects", hc)
	}
	if hc, ok := Transport(nil, Defaults{Timeout: time.Minute}).(*http.Client); !ok || hc.Timeout != time.Minute || hc.CheckRedirect == nil {
		t.Errorf("Transport(nil) = %#v, want the default client", hc)
	}
}
