package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// childDefaultTransport is the child mode that runs an unmodified azidentity
// program: no custom transport, no cloud configuration, everything from the
// environment block that cmd/fakemsi documents.
const childDefaultTransport = "default-transport"

// runChild runs the child program named mode and returns its exit code.
func runChild(mode string) int {
	switch mode {
	case childDefaultTransport:
		summary, err := unmodifiedClient(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		fmt.Println("child: ok", summary)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "child: unknown mode %q\n", mode)
		return 2
	}
}

// unmodifiedClient is what a Function App author writes with azidentity:
// ManagedIdentityCredential (App Service detected from IDENTITY_ENDPOINT and
// IDENTITY_HEADER) feeding ClientAssertionCredential, whose authority host
// comes from AZURE_AUTHORITY_HOST and whose TLS roots are the process's
// (SSL_CERT_FILE). The target is the first tenant of FAKEMSI_TENANTS. It
// returns the claims it checked, never the token.
func unmodifiedClient(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tenant, _, _ := strings.Cut(os.Getenv("FAKEMSI_TENANTS"), ",")
	clientID := os.Getenv("AZURE_CLIENT_ID")
	if tenant == "" || clientID == "" || os.Getenv("AZURE_AUTHORITY_HOST") == "" {
		return "", fmt.Errorf("FAKEMSI_TENANTS, AZURE_CLIENT_ID and AZURE_AUTHORITY_HOST must be set")
	}
	mi, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		return "", err
	}
	cred, err := azidentity.NewClientAssertionCredential(tenant, clientID, func(ctx context.Context) (string, error) {
		tok, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{exchangeScope}})
		return tok.Token, err
	}, &azidentity.ClientAssertionCredentialOptions{
		DisableInstanceDiscovery: true,
		// One attempt: the control case (CA not trusted) would otherwise
		// spend seconds in azcore's backoff. Retries do not change trust.
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		return "", err
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		return "", err
	}
	c, err := decodeClaims(tok.Token)
	if err != nil {
		return "", err
	}
	if c.Tenant != tenant || c.Audience != graphAudience || !slices.Contains(c.Roles, deviceReadAllRole) {
		return "", fmt.Errorf("unexpected claims: tid=%s aud=%s roles=%v", c.Tenant, c.Audience, c.Roles)
	}
	return fmt.Sprintf("tid=%s aud=%s roles=%s", c.Tenant, c.Audience, strings.Join(c.Roles, ",")), nil
}

// childEnvironment is the environment block cmd/fakemsi would set, built from
// this binary's server, plus extra variables.
func childEnvironment(extra ...string) []string {
	env := append(os.Environ(),
		childEnv+"="+childDefaultTransport,
		"AZURE_AUTHORITY_HOST="+srv.URL(),
		"AZURE_TENANT_ID="+fakeidp.DefaultHomeTenantID,
		"AZURE_CLIENT_ID="+fakeidp.DefaultAppClientID,
		"FAKEMSI_TENANTS="+fakeidp.DefaultConsentedTenantID+","+fakeidp.DefaultUnconsentedTenantID,
	)
	return append(env, extra...)
}

// TestDefaultTransportTrustsSSLCertFile proves the SSL_CERT_FILE route: an
// azidentity program with Go's default transport accepts the fake once
// SSL_CERT_FILE names its CA. Go loads the system roots once per process, so
// the program runs as a child (this binary, re-executed); the control case
// without the CA shows that the child really verifies the certificate.
func TestDefaultTransportTrustsSSLCertFile(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "fakeidp-ca.pem")
	if err := os.WriteFile(caFile, srv.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	// SSL_CERT_DIR points at an empty directory so that only SSL_CERT_FILE
	// can supply roots.
	emptyDir := t.TempDir()
	emptyFile := filepath.Join(emptyDir, "empty.pem")
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		certFile string
		wantOK   bool
	}{
		{"SSL_CERT_FILE names the fake's CA", caFile, true},
		{"roots without the fake's CA", emptyFile, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetRequests()
			cmd := exec.CommandContext(t.Context(), os.Args[0])
			cmd.Env = childEnvironment("SSL_CERT_FILE="+tc.certFile, "SSL_CERT_DIR="+t.TempDir())
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if tc.wantOK {
				if err != nil {
					t.Fatalf("child failed: %v\nstderr:\n%s", err, stderr.String())
				}
				if !strings.Contains(stdout.String(), "child: ok tid="+fakeidp.DefaultConsentedTenantID) {
					t.Errorf("child output %q lacks the token summary", stdout.String())
				}
				assertTokenRequest(t, fakeidp.DefaultConsentedTenantID, fakeidp.DefaultAppClientID)
				return
			}
			if err == nil {
				t.Fatalf("child succeeded without the fake's CA; output: %s", stdout.String())
			}
			if !strings.Contains(stderr.String(), "certificate") {
				t.Errorf("child failed, but not on the certificate:\n%s", stderr.String())
			}
		})
	}
}
