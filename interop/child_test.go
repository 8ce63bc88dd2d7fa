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
	"github.com/tenantbridge/tenantbridge/federated"
)

// Child modes: each is a program a user would write, run by a test as this
// binary re-executed (TestMain dispatches on childEnv). They take everything
// from the environment block that cmd/fakemsi documents and use Go's default
// transport, whose roots come from SSL_CERT_FILE.
const (
	// childDefaultTransport: azidentity's ManagedIdentityCredential (App
	// Service) feeding ClientAssertionCredential.
	childDefaultTransport = "default-transport"
	// childWorkload: azidentity's WorkloadIdentityCredential
	// (AZURE_FEDERATED_TOKEN_FILE).
	childWorkload = "workload"
	// childFederated: tenantbridge's federated.NewFromEnvironment, which
	// picks App Service, the workload file or IMDS and reads AZURE_TENANT_ID,
	// AZURE_CLIENT_ID and AZURE_ADDITIONALLY_ALLOWED_TENANTS.
	childFederated = "federated-env"
)

// runChild runs the child program named mode and returns its exit code. It
// prints the claims it checked, never a token.
func runChild(mode string) int {
	summary, err := childGetToken(context.Background(), mode)
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", mode, err)
		return 1
	}
	fmt.Println("child: ok", summary)
	return 0
}

// childGetToken gets a Graph token in the first tenant of FAKEMSI_TENANTS
// (the consented one) with the credential mode names, and checks its claims.
func childGetToken(ctx context.Context, mode string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tenant, _, _ := strings.Cut(os.Getenv("FAKEMSI_TENANTS"), ",")
	clientID := os.Getenv("AZURE_CLIENT_ID")
	if tenant == "" || clientID == "" || os.Getenv("AZURE_AUTHORITY_HOST") == "" {
		return "", fmt.Errorf("FAKEMSI_TENANTS, AZURE_CLIENT_ID and AZURE_AUTHORITY_HOST must be set")
	}
	// One attempt: the control case (CA not trusted) would otherwise spend
	// seconds in azcore's backoff. Retries do not change trust.
	noRetry := azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}
	var (
		cred azcore.TokenCredential
		err  error
	)
	switch mode {
	case childDefaultTransport:
		var mi *azidentity.ManagedIdentityCredential
		mi, err = azidentity.NewManagedIdentityCredential(nil)
		if err != nil {
			return "", err
		}
		cred, err = azidentity.NewClientAssertionCredential(tenant, clientID, func(ctx context.Context) (string, error) {
			tok, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{exchangeScope}})
			return tok.Token, err
		}, &azidentity.ClientAssertionCredentialOptions{ClientOptions: noRetry, DisableInstanceDiscovery: true})
	case childWorkload:
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions:              noRetry,
			AdditionallyAllowedTenants: []string{"*"},
			DisableInstanceDiscovery:   true,
		})
	case childFederated:
		cred, err = federated.NewFromEnvironment(&federated.Options{ClientOptions: noRetry})
	default:
		return "", fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		return "", err
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tenant})
	if err != nil {
		return "", err
	}
	c, err := decodeClaims(tok.Token)
	if err != nil {
		return "", err
	}
	if c.Tenant != tenant || c.Audience != graphAudience || c.AppID != clientID || !slices.Contains(c.Roles, deviceReadAllRole) {
		return "", fmt.Errorf("unexpected claims: tid=%s aud=%s appid=%s roles=%v", c.Tenant, c.Audience, c.AppID, c.Roles)
	}
	return fmt.Sprintf("tid=%s aud=%s roles=%s", c.Tenant, c.Audience, strings.Join(c.Roles, ",")), nil
}

// childEnvironment is this process's environment with the emulator's block
// (what `fakemsi exec` would set), the child mode, and extra variables, which
// win.
func childEnvironment(extra ...string) []string {
	env := append(emu.Env().Merge(os.Environ()), childEnv+"="+childDefaultTransport)
	return append(env, extra...)
}

// TestDefaultTransportTrustsSSLCertFile proves the SSL_CERT_FILE route: an
// azidentity program with Go's default transport accepts the fake once
// SSL_CERT_FILE names its CA. Go loads the system roots once per process, so
// the program runs as a child (this binary, re-executed); the control case
// without the CA shows that the child really verifies the certificate.
func TestDefaultTransportTrustsSSLCertFile(t *testing.T) {
	caFile := emu.CAFile()
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
		{"SSL_CERT_FILE names the emulator's CA bundle", caFile, true},
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
					t.Fatalf("child failed: %v\nstderr:\n%s", err, redact(stderr.String()))
				}
				if !strings.Contains(stdout.String(), "child: ok tid="+fakeidp.DefaultConsentedTenantID) {
					t.Errorf("child output %q lacks the token summary", redact(stdout.String()))
				}
				assertTokenRequest(t, fakeidp.DefaultConsentedTenantID, fakeidp.DefaultAppClientID)
				return
			}
			if err == nil {
				t.Fatalf("child succeeded without the fake's CA; output: %s", redact(stdout.String()))
			}
			if !strings.Contains(stderr.String(), "certificate") {
				t.Errorf("child failed, but not on the certificate:\n%s", redact(stderr.String()))
			}
		})
	}
}
