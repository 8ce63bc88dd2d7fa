package graphtest_test

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
	"github.com/tenantbridge/tenantbridge/internal/httpserver"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// TestListenerHasTheFakesTimeouts: the Graph listener runs with the
// timeouts of every fake's listener.
func TestListenerHasTheFakesTimeouts(t *testing.T) {
	srv, err := graphtest.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if got := graphtest.ListenerTimeouts(srv); got != httpserver.Defaults {
		t.Errorf("listener timeouts %+v, want httpserver.Defaults %+v", got, httpserver.Defaults)
	}
}

// TestSlowlorisConnectionIsClosed opens a TLS connection and sends a request
// header a byte at a time, never finishing it: the server closes the
// connection once the header timeout passes, instead of holding it for as
// long as the client keeps dripping.
func TestSlowlorisConnectionIsClosed(t *testing.T) {
	srv, err := graphtest.NewWithTimeouts(nil, httpserver.Timeouts{ReadHeader: 300 * time.Millisecond, Read: time.Second, Idle: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	u, _ := url.Parse(srv.URL())
	conn, err := tls.Dial("tcp", u.Host, srv.Client().Transport.(*http.Transport).TLSClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The server may write a last word (an HTTP/2 GOAWAY, a 408) before it
	// closes; the test waits for the close.
	closed := make(chan string, 1)
	go func() {
		got, _ := io.ReadAll(conn)
		closed <- string(got)
	}()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		header := "GET /v1.0/devices HTTP/1.1\r\nHost: graph\r\nX-Slow: " + strings.Repeat("a", 1<<20)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < len(header); i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte{header[i]}); err != nil {
				return
			}
		}
	}()
	if got := testwait.Receive(t, closed, "the server closing a slowloris connection"); strings.Contains(got, " 200 ") {
		t.Errorf("the server answered a request whose header never ended: %.100q", got)
	}
}

// TestTLSHandshakeErrorIsLogged sends plain text to the HTTPS listener: the
// handshake error goes to Options.Logger, not to the process's stderr.
func TestTLSHandshakeErrorIsLogged(t *testing.T) {
	var logs lockedBuffer
	srv, err := graphtest.New(&graphtest.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	u, _ := url.Parse(srv.URL())
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testwait.Bound)
	for !strings.Contains(logs.String(), "TLS handshake error") {
		if time.Now().After(deadline) {
			t.Fatalf("no TLS handshake error logged within %s; log: %q", testwait.Bound, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	line := logs.String()
	for _, want := range []string{`"level":"WARN"`, `"listener":"graph"`, `"msg":"http server error"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %s", line, want)
		}
	}
}
