// Package tlshint turns a TLS handshake that a client refused (it did not
// trust the emulator's certificate) into one warning that names the CA
// variable that client reads, guessed from its ClientHello: each common
// client's TLS stack has its own fingerprint, and each reads its own
// variable (Go SSL_CERT_FILE, Node.js NODE_EXTRA_CA_CERTS, Python requests
// REQUESTS_CA_BUNDLE, curl CURL_CA_BUNDLE). The fakes' HTTPS listeners use
// it; it is only a hint, and says so.
package tlshint

import (
	"crypto/tls"
	"log"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// Client is a guess at the program behind a ClientHello.
type Client struct {
	Name string // "Go", "Node.js", "Python", "curl", or "" when unknown
	Hint string // what to set
}

// The hints, one per client; Unknown lists them all.
var (
	clientGo     = Client{"Go", "Go trusts SSL_CERT_FILE on Linux (fakemsi exec sets it; Go reads it once per process); on macOS and Windows Go ignores it: run 'fakemsi ca install' once and use --local-ca"}
	clientNode   = Client{"Node.js", "Node.js trusts NODE_EXTRA_CA_CERTS, read when node starts (fakemsi exec sets it)"}
	clientPython = Client{"Python", "Python requests (azure-identity, MSAL, the Azure CLI) trusts REQUESTS_CA_BUNDLE, never SSL_CERT_FILE; Python's ssl and urllib trust SSL_CERT_FILE (fakemsi exec sets both)"}
	clientCurl   = Client{"curl", "curl trusts CURL_CA_BUNDLE (fakemsi exec sets it) or --cacert"}
	unknown      = Client{"", "clients trust the emulator's CA through SSL_CERT_FILE (Go, OpenSSL), NODE_EXTRA_CA_CERTS (Node.js), REQUESTS_CA_BUNDLE (Python requests) or CURL_CA_BUNDLE (curl); fakemsi exec sets them all"}
)

// scsv is TLS_EMPTY_RENEGOTIATION_INFO_SCSV: OpenSSL-based clients (Node.js,
// Python, curl) send it, Go's crypto/tls never does.
const scsv = 0x00ff

// Guess names the client of a ClientHello, from fingerprints recorded with
// Go 1.26, Node.js 22 (fetch and https), Debian 12's Python 3.11 (requests,
// urllib) and curl 7.88: Go sends no SCSV; Node.js's default cipher list puts
// ECDHE-RSA-AES128-GCM-SHA256 (0xc02f) right after the TLS 1.3 suites;
// curl offers h2 by ALPN; Python offers http/1.1 only.
func Guess(h *tls.ClientHelloInfo) Client {
	if h == nil || len(h.CipherSuites) == 0 {
		return unknown
	}
	cs := h.CipherSuites
	if !slices.Contains(cs, scsv) {
		return clientGo
	}
	// Skip the TLS 1.3 suites (0x13xx) that OpenSSL lists first.
	i := 0
	for i < len(cs) && cs[i]>>8 == 0x13 {
		i++
	}
	if i < len(cs) && cs[i] == 0xc02f {
		return clientNode
	}
	if slices.Contains(h.SupportedProtos, "h2") {
		return clientCurl
	}
	if slices.Equal(h.SupportedProtos, []string{"http/1.1"}) {
		return clientPython
	}
	return unknown
}

// maxPending bounds the ClientHellos remembered until their handshake ends.
const maxPending = 1024

// Watcher remembers each connection's ClientHello and, when the server's
// error log reports that a client refused the handshake, logs a warning
// with the guess. Use Config for the listener's tls.Config and ErrorLog for
// its http.Server.
type Watcher struct {
	logger   *slog.Logger
	listener string

	mu     sync.Mutex
	hellos map[string]Client // by remote address
}

// New returns a Watcher that warns on logger (nil: it logs nothing) with the
// listener's name.
func New(logger *slog.Logger, listener string) *Watcher {
	return &Watcher{logger: logger, listener: listener, hellos: map[string]Client{}}
}

// Config returns base (a copy; nil means an empty config) with a
// GetConfigForClient that remembers the ClientHello. base must not set
// GetConfigForClient.
func (w *Watcher) Config(base *tls.Config) *tls.Config {
	c := &tls.Config{}
	if base != nil {
		c = base.Clone()
	}
	c.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		if h.Conn != nil {
			w.mu.Lock()
			if len(w.hellos) >= maxPending {
				clear(w.hellos) // entries of handshakes that succeeded
			}
			w.hellos[h.Conn.RemoteAddr().String()] = Guess(h)
			w.mu.Unlock()
		}
		return nil, nil // the listener's config as it is
	}
	return c
}

// ErrorLog is an http.Server's ErrorLog: it turns "TLS handshake error"
// lines about an untrusted certificate into the warning and drops every
// other line (clients that hang up are noise in a test's output).
func (w *Watcher) ErrorLog() *log.Logger { return log.New(errorWriter{w}, "", 0) }

type errorWriter struct{ w *Watcher }

// refused tells a client's "I do not trust you" alert from other failures.
// OpenSSL clients (Python, Node.js, curl) send their unknown_ca alert under
// TLS 1.3 handshake keys when the Go server has already moved on, which Go
// reports as "bad record MAC": on loopback nothing else corrupts records.
var refused = []string{"unknown certificate authority", "bad certificate", "certificate unknown", "unsupported certificate", "bad record MAC"}

func (e errorWriter) Write(p []byte) (int, error) {
	e.w.Handle(p)
	return len(p), nil
}

// Handle logs the warning for an http.Server error line that reports a
// handshake the client refused, and says whether the line was one; other
// lines are left to the caller (internal/httpserver logs them, ErrorLog
// drops them).
func (w *Watcher) Handle(p []byte) bool {
	line := strings.TrimSpace(string(p))
	rest, ok := strings.CutPrefix(line, "http: TLS handshake error from ")
	if !ok {
		return false
	}
	addr, reason, _ := strings.Cut(rest, ": ")
	w.mu.Lock()
	c, known := w.hellos[addr]
	delete(w.hellos, addr)
	w.mu.Unlock()
	// Node.js hangs up without an alert Go can read: EOF after a
	// ClientHello. A port probe sends no ClientHello and stays quiet.
	isRefusal := slices.ContainsFunc(refused, func(s string) bool { return strings.Contains(reason, s) }) ||
		known && reason == "EOF"
	if !isRefusal {
		return false
	}
	if w.logger == nil {
		return true
	}
	if !known {
		c = unknown
	}
	client := c.Name
	if client == "" {
		client = "unknown"
	}
	w.logger.Warn("TLS handshake refused by the client: probably it does not trust the emulator's CA",
		slog.String("listener", w.listener), slog.String("remote", addr), slog.String("reason", reason),
		slog.String("client_guess", client), slog.String("hint", c.Hint))
	return true
}
