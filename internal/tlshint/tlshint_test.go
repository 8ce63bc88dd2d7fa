package tlshint

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// The ClientHellos of real clients, recorded against a Go server (cipher
// suites and ALPN as crypto/tls reports them).
func TestGuess(t *testing.T) {
	for _, tc := range []struct {
		name    string
		suites  []uint16
		protos  []string
		want    string
		wantVar string
	}{
		{"Go 1.26 net/http", []uint16{0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014, 0x1301, 0x1302, 0x1303}, []string{"h2", "http/1.1"}, "Go", "SSL_CERT_FILE"},
		{"Python 3.11 requests", []uint16{0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0x9f, 0x9e, 0x2f, 0xff}, []string{"http/1.1"}, "Python", "REQUESTS_CA_BUNDLE"},
		{"Python 3.11 urllib", []uint16{0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x9f, 0xcca9, 0x35, 0x2f, 0xff}, []string{"http/1.1"}, "Python", "SSL_CERT_FILE"},
		{"Node.js fetch", []uint16{0x1302, 0x1303, 0x1301, 0xc02f, 0xc02b, 0xc030, 0xc02c, 0x9e, 0x35, 0x2f, 0xff}, []string{"http/1.1"}, "Node.js", "NODE_EXTRA_CA_CERTS"},
		{"Node.js https", []uint16{0x1302, 0x1303, 0x1301, 0xc02f, 0xc02b, 0xc030, 0xc02c, 0x9e, 0x35, 0x2f, 0xff}, nil, "Node.js", "NODE_EXTRA_CA_CERTS"},
		{"curl 7.88", []uint16{0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x9f, 0xcca9, 0x35, 0x2f, 0xff}, []string{"h2", "http/1.1"}, "curl", "CURL_CA_BUNDLE"},
		{"OpenSSL without ALPN", []uint16{0x1302, 0xc02c, 0xff}, nil, "", "REQUESTS_CA_BUNDLE"},
		{"nothing", nil, nil, "", "NODE_EXTRA_CA_CERTS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Guess(&tls.ClientHelloInfo{CipherSuites: tc.suites, SupportedProtos: tc.protos})
			if got.Name != tc.want || !strings.Contains(got.Hint, tc.wantVar) {
				t.Errorf("Guess = %q (%s), want %q naming %s", got.Name, got.Hint, tc.want, tc.wantVar)
			}
		})
	}
}

// warnings is a slog handler that hands every record to a channel.
type warnings chan slog.Record

func (w warnings) Enabled(context.Context, slog.Level) bool { return true }
func (w warnings) Handle(_ context.Context, r slog.Record) error {
	w <- r.Clone()
	return nil
}
func (w warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w warnings) WithGroup(string) slog.Handler      { return w }

func attrs(r slog.Record) map[string]string {
	m := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	return m
}

// server is an HTTPS server whose TLS config and error log go through a
// Watcher.
func server(t *testing.T) (*httptest.Server, warnings) {
	t.Helper()
	ch := make(warnings, 16)
	w := New(slog.New(ch), "entra")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = w.Config(nil)
	srv.Config.ErrorLog = w.ErrorLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, ch
}

// TestWatcherWarnsWithTheClientsVariable: a real client that does not trust
// the server's CA yields one warning naming its variable; a client that
// trusts it, none.
func TestWatcherWarnsWithTheClientsVariable(t *testing.T) {
	srv, ch := server(t)
	// A Go client with the system roots does not trust httptest's CA.
	c := &http.Client{Transport: &http.Transport{}}
	if _, err := c.Get(srv.URL); err == nil {
		t.Fatal("an untrusting client connected")
	}
	r := testwait.Receive(t, (<-chan slog.Record)(ch), "the warning")
	a := attrs(r)
	if r.Level != slog.LevelWarn || a["client_guess"] != "Go" || !strings.Contains(a["hint"], "SSL_CERT_FILE") || a["listener"] != "entra" {
		t.Errorf("warning %s %q %v", r.Level, r.Message, a)
	}
	// A trusting client: no warning.
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Client().CloseIdleConnections()
	select {
	case r := <-ch:
		t.Errorf("warning for a trusting client: %q %v", r.Message, attrs(r))
	default:
	}
}

// TestWatcherRealClients runs the other clients the hints name, when this
// machine has them; each refuses httptest's CA with its default trust.
func TestWatcherRealClients(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		argv       []string
	}{
		{"python requests", "Python", []string{"/usr/bin/python3", "-c", "import requests, sys; requests.get(sys.argv[1], timeout=10)"}},
		{"node fetch", "Node.js", []string{"node", "-e", "fetch(process.argv[1]).catch(() => process.exit(1))"}},
		{"curl", "curl", []string{"curl", "-s", "--max-time", "10"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.argv[0]); err != nil {
				t.Skipf("%s is not installed", tc.argv[0])
			}
			srv, ch := server(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, tc.argv[0], append(tc.argv[1:], srv.URL)...)
			// Their own defaults, not what the environment of this test says.
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Fatalf("%s trusted httptest's CA: %s", tc.name, out)
			}
			a := attrs(testwait.Receive(t, (<-chan slog.Record)(ch), "the warning"))
			if a["client_guess"] != tc.want {
				t.Errorf("guess %q, want %q (%v)", a["client_guess"], tc.want, a)
			}
		})
	}
}
