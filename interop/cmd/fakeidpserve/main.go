// Command fakeidpserve runs fakeidp with its default scenario for test suites
// written in other languages (interop/js): it writes the environment block a
// client needs as JSON to the file named by -env-file, prints "ready" on
// standard output, and serves until standard input closes or it receives
// SIGTERM or SIGINT.
//
//	fakeidpserve -env-file /tmp/fakeidp.json < /some/pipe
//
// The file holds secrets (the App Service identity header) and is written with
// mode 0600; the CA certificate is written beside it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// Block is the JSON document fakeidpserve writes.
type Block struct {
	// Env is the environment a client process needs: IDENTITY_ENDPOINT,
	// IDENTITY_HEADER, MSI_ENDPOINT, MSI_SECRET, AZURE_AUTHORITY_HOST,
	// AZURE_TENANT_ID, AZURE_CLIENT_ID, SSL_CERT_FILE, NODE_EXTRA_CA_CERTS and
	// FAKEMSI_TENANTS (remote tenants, consented first), as cmd/fakemsi sets
	// them.
	Env map[string]string `json:"env"`
	// AuthorityHost is the Entra authority (https://127.0.0.1:PORT).
	AuthorityHost string `json:"authorityHost"`
	// CAFile is the path of the CA certificate (PEM) the server's
	// certificate chains to.
	CAFile string `json:"caFile"`
	// HomeTenant, ClientID: the Function App's tenant and the multi-tenant app.
	HomeTenant string `json:"homeTenant"`
	ClientID   string `json:"clientId"`
	// ConsentedTenants and UnconsentedTenants are the remote tenants.
	ConsentedTenants   []string `json:"consentedTenants"`
	UnconsentedTenants []string `json:"unconsentedTenants"`
}

func main() {
	envFile := flag.String("env-file", "", "write the environment block as JSON to this `file` (required)")
	verbose := flag.Bool("v", false, "log one line per request to standard error (tokens redacted)")
	flag.Parse()
	if *envFile == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var logger *slog.Logger
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if err := run(ctx, *envFile, logger, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fakeidpserve:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends or stdin reaches EOF (the parent closed the pipe
// or died), so that a crashed test runner never leaves a server behind.
func run(ctx context.Context, envFile string, logger *slog.Logger, stdin io.Reader, stdout io.Writer) error {
	srv, err := fakeidp.New(nil, &fakeidp.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer srv.Close()
	caFile := envFile + ".ca.pem"
	if err := writeFileAtomic(caFile, srv.CAPEM()); err != nil {
		return err
	}
	defer os.Remove(caFile)
	data, err := json.MarshalIndent(blockFor(srv, caFile), "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(envFile, data); err != nil {
		return err
	}
	defer os.Remove(envFile)
	if _, err := fmt.Fprintln(stdout, "ready"); err != nil {
		return err
	}
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case <-ctx.Done():
	case <-eof:
	}
	return nil
}

// blockFor describes srv's scenario: tenants other than the app's home tenant
// are consented when the scenario grants the app a consent there.
func blockFor(srv *fakeidp.Server, caFile string) Block {
	sc := srv.Scenario()
	b := Block{
		AuthorityHost: srv.URL(),
		CAFile:        caFile,
		HomeTenant:    fakeidp.DefaultHomeTenantID,
		ClientID:      fakeidp.DefaultAppClientID,
	}
	for _, app := range sc.Apps {
		if app.MultiTenant {
			b.HomeTenant, b.ClientID = app.HomeTenant, app.ClientID
			break
		}
	}
	consented := map[string]bool{}
	for _, c := range sc.Consents {
		if c.ClientID == b.ClientID {
			consented[c.Tenant] = true
		}
	}
	for _, t := range sc.Tenants {
		switch {
		case t.ID == b.HomeTenant:
		case consented[t.ID]:
			b.ConsentedTenants = append(b.ConsentedTenants, t.ID)
		default:
			b.UnconsentedTenants = append(b.UnconsentedTenants, t.ID)
		}
	}
	b.Env = map[string]string{
		"IDENTITY_ENDPOINT":    srv.AppServiceEndpoint(),
		"IDENTITY_HEADER":      srv.IdentityHeader(),
		"MSI_ENDPOINT":         srv.AppServiceEndpoint(),
		"MSI_SECRET":           srv.IdentityHeader(),
		"AZURE_AUTHORITY_HOST": srv.URL(),
		"AZURE_TENANT_ID":      b.HomeTenant,
		"AZURE_CLIENT_ID":      b.ClientID,
		"SSL_CERT_FILE":        caFile,
		"NODE_EXTRA_CA_CERTS":  caFile,
		"FAKEMSI_TENANTS":      strings.Join(append(append([]string(nil), b.ConsentedTenants...), b.UnconsentedTenants...), ","),
	}
	return b
}

// writeFileAtomic writes data so that a reader polling for path never sees a
// partial file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fakeidpserve-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
