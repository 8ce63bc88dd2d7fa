package localca

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateKeepsTheCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fakemsi")
	first, created, err := LoadOrCreate(dir, "test CA")
	if err != nil || !created {
		t.Fatalf("first call: created %t, %v", created, err)
	}
	second, created, err := LoadOrCreate(dir, "test CA")
	if err != nil || created {
		t.Fatalf("second call: created %t, %v", created, err)
	}
	if string(first.Certificate[0]) != string(second.Certificate[0]) {
		t.Error("the second call made a new CA")
	}
	for name, want := range map[string]os.FileMode{KeyFile: 0o600, CertFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", name, fi.Mode().Perm(), err, want)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
}

func TestLoadOrCreateRefusesAHalfCA(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadOrCreate(dir, "test CA"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, KeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(dir, "test CA"); err == nil {
		t.Fatal("a certificate without its key was replaced silently")
	}
}

// TestLeafIsTrustedThroughTheCA: a client that trusts only the CA's PEM
// talks to a server with the leaf; one that trusts another CA does not.
func TestLeafIsTrustedThroughTheCA(t *testing.T) {
	ca, err := New("test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := Leaf(ca, net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	srv.StartTLS()
	defer srv.Close()
	for _, tc := range []struct {
		name  string
		roots []byte
		ok    bool
	}{{"the CA", PEM(ca), true}, {"another CA", PEM(must(New("other")))[:], false}} {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(tc.roots)
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want success %t", tc.name, err, tc.ok)
		}
	}
}

func TestPartsRefusesALeaf(t *testing.T) {
	ca := must(New("test CA"))
	leaf, err := Leaf(ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Leaf(leaf, nil); err == nil {
		t.Error("a server certificate signed another")
	}
}

func must(c tls.Certificate, err error) tls.Certificate {
	if err != nil {
		panic(err)
	}
	return c
}
