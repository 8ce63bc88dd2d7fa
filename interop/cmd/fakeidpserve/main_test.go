package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// TestRunWritesBlockAndServesUntilStdinCloses drives run as the node tests do:
// wait for "ready", read the block, use it, close stdin, expect a clean exit
// with the files removed.
func TestRunWritesBlockAndServesUntilStdinCloses(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "env.json")
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(t.Context(), envFile, nil, stdinR, stdoutW) }()

	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("first output line %q, %v; want ready", line, err)
	}
	data, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(envFile); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("env file mode %v, %v: want no access for group and others", fi.Mode(), err)
	}
	var b Block
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatalf("env file is not JSON: %v", err)
	}
	want := Block{
		HomeTenant:         fakeidp.DefaultHomeTenantID,
		ClientID:           fakeidp.DefaultAppClientID,
		ConsentedTenants:   []string{fakeidp.DefaultConsentedTenantID},
		UnconsentedTenants: []string{fakeidp.DefaultUnconsentedTenantID},
	}
	got := b
	got.Env, got.AuthorityHost, got.CAFile = nil, "", ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("block (-want +got):\n%s", diff)
	}
	for _, k := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_AUTHORITY_HOST", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"} {
		if b.Env[k] == "" {
			t.Errorf("env %s is empty", k)
		}
	}
	if got, want := b.Env["FAKEMSI_TENANTS"], fakeidp.DefaultConsentedTenantID+","+fakeidp.DefaultUnconsentedTenantID; got != want {
		t.Errorf("FAKEMSI_TENANTS = %q, want %q", got, want)
	}
	if !strings.HasPrefix(b.AuthorityHost, "https://127.0.0.1:") {
		t.Errorf("authority host %q is not https on loopback", b.AuthorityHost)
	}

	// The server is up and the CA file makes it trusted.
	ca, err := os.ReadFile(b.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	client := clientTrusting(t, ca)
	resp, err := client.Get(b.AuthorityHost + "/" + b.HomeTenant + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("discovery through the CA file: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("discovery status %d", resp.StatusCode)
	}

	stdinW.Close()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, f := range []string{envFile, b.CAFile} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s still exists after exit (%v)", filepath.Base(f), err)
		}
	}
}

func clientTrusting(t *testing.T, caPEM []byte) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("the CA file holds no certificate")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}
