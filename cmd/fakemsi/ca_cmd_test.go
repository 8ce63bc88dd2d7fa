package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/internal/localca"
)

// TestCACommand: path makes the CA once and names its file; print prints
// that file; a second call keeps the CA.
func TestCACommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fakemsi")
	var out, errOut bytes.Buffer
	if code := run([]string{"ca", "--dir", dir, "path"}, &out, &errOut); code != exitOK {
		t.Fatalf("ca path: exit %d: %s", code, errOut.String())
	}
	if got, want := strings.TrimSpace(out.String()), filepath.Join(dir, localca.CertFile); got != want {
		t.Errorf("ca path printed %q, want %q", got, want)
	}
	if !strings.Contains(errOut.String(), "created a new CA") {
		t.Errorf("first call did not say it created the CA: %q", errOut.String())
	}
	file, err := os.ReadFile(filepath.Join(dir, localca.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"ca", "--dir", dir, "print"}, &out, &errOut); code != exitOK {
		t.Fatalf("ca print: exit %d: %s", code, errOut.String())
	}
	if !bytes.Equal(out.Bytes(), file) || errOut.Len() != 0 {
		t.Errorf("ca print: %q (stderr %q), want the CA file and no new CA", out.String(), errOut.String())
	}
	b, _ := pem.Decode(out.Bytes())
	if b == nil {
		t.Fatal("ca print: not PEM")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil || !c.IsCA || c.Subject.CommonName != caCertName {
		t.Errorf("ca print: %v, IsCA %t, CN %q", err, c != nil && c.IsCA, c.Subject.CommonName)
	}
	if code := run([]string{"ca", "--dir", dir, "trust"}, &out, &errOut); code != exitUsage {
		t.Errorf("unknown action: exit %d, want %d", code, exitUsage)
	}
}

// TestCAInstallLinux installs into and removes from a store directory of the
// test's own, with a recording update command: the real system store is never
// touched.
func TestCAInstallLinux(t *testing.T) {
	dir, store := t.TempDir(), t.TempDir()
	record := filepath.Join(t.TempDir(), "update.log")
	script := filepath.Join(t.TempDir(), "update.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho updated \"$@\" >> '"+record+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	args := func(action string) []string {
		return []string{"ca", "--dir", dir, "--store-dir", store, "--update-command", script + " --fresh", action}
	}
	if code := run(args("install"), &out, &errOut); code != exitOK {
		t.Fatalf("install: exit %d: %s", code, errOut.String())
	}
	installed, err := os.ReadFile(filepath.Join(store, caStoreFile))
	if err != nil {
		t.Fatalf("install wrote nothing into the store: %v", err)
	}
	ca, _ := os.ReadFile(filepath.Join(dir, localca.CertFile))
	if !bytes.Equal(installed, ca) {
		t.Error("the store holds something else than the CA")
	}
	if code := run(args("uninstall"), &out, &errOut); code != exitOK {
		t.Fatalf("uninstall: exit %d: %s", code, errOut.String())
	}
	if _, err := os.Stat(filepath.Join(store, caStoreFile)); !os.IsNotExist(err) {
		t.Errorf("uninstall left the CA in the store (%v)", err)
	}
	log, _ := os.ReadFile(record)
	if diff := cmp.Diff("updated --fresh\nupdated --fresh\n", string(log)); diff != "" {
		t.Errorf("update command runs (-want +got):\n%s", diff)
	}
	// A failing update command is an error naming it.
	if code := run([]string{"ca", "--dir", dir, "--store-dir", store, "--update-command", "false", "install"}, &out, &errOut); code != exitFailure || !strings.Contains(errOut.String(), "false") {
		t.Errorf("failing update: exit %d, stderr %q", code, errOut.String())
	}
}

// TestTrustStoreCommands pins the macOS and Windows command lines, which are
// built here but can only run there.
func TestTrustStoreCommands(t *testing.T) {
	ca, err := localca.New(caCertName)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, _ := localca.Parts(ca)
	for _, tc := range []struct {
		goos                    string
		wantInstall, wantRemove string
	}{
		{"darwin", "security add-trusted-cert -r trustRoot -k", "security remove-trusted-cert /ca.pem"},
		{"windows", "certutil -addstore -user Root /ca.pem", "certutil -delstore -user Root " + cert.SerialNumber.Text(16)},
	} {
		t.Run(tc.goos, func(t *testing.T) {
			st := trustStoreFor(tc.goos, "", "")
			var ran []string
			st.run = func(argv []string) error { ran = append(ran, strings.Join(argv, " ")); return nil }
			if err := st.install("/ca.pem", cert); err != nil {
				t.Fatal(err)
			}
			if err := st.uninstall("/ca.pem", cert); err != nil {
				t.Fatal(err)
			}
			if len(ran) < 2 || !strings.HasPrefix(ran[0], tc.wantInstall) || !strings.HasPrefix(ran[1], tc.wantRemove) {
				t.Errorf("commands %q, want %q then %q", ran, tc.wantInstall, tc.wantRemove)
			}
		})
	}
	if trustStoreFor("plan9", "", "") != nil {
		t.Error("a store for plan9")
	}
}

// TestExecLocalCA: with --local-ca-dir the block's bundle is the persistent
// CA alone, and both HTTPS listeners chain to it.
func TestExecLocalCA(t *testing.T) {
	dir := t.TempDir()
	script := `set -e
cmp "$SSL_CERT_FILE" "$CA_DIR/ca.pem"
curl -sf --cacert "$CA_DIR/ca.pem" "$AZURE_AUTHORITY_HOST/common/discovery/instance" > /dev/null
curl -s --cacert "$CA_DIR/ca.pem" -o /dev/null "$FAKEMSI_GRAPH_URL/devices"
echo trusted`
	r := runFakemsi(t, []string{"CA_DIR=" + dir}, "exec", "--local-ca-dir", dir, "--", "sh", "-c", script)
	if r.code != 0 || !strings.Contains(r.stdout, "trusted") {
		t.Fatalf("exit %d, stdout %q\nstderr:\n%s", r.code, r.stdout, redact(r.stderr))
	}
	// The same CA next time: installed once, trusted for good.
	before, _ := os.ReadFile(filepath.Join(dir, localca.CertFile))
	r = runFakemsi(t, []string{"CA_DIR=" + dir}, "exec", "--local-ca-dir", dir, "--", "sh", "-c", script)
	after, _ := os.ReadFile(filepath.Join(dir, localca.CertFile))
	if r.code != 0 || !bytes.Equal(before, after) {
		t.Errorf("second run: exit %d, CA kept %t", r.code, bytes.Equal(before, after))
	}
}
