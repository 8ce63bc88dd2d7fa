package interop

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/conformance"
	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// The conformance harness on the anchors: azidentity v1.15.0's
// ManagedIdentityCredential (as an assertion.Source), ClientAssertionCredential
// and WorkloadIdentityCredential, against the emulator of this binary
// (TestMain) and, for the Refresh check, a fakeidp that issues 4-second
// tokens. The harness runs through CheckSource and CheckCredential, and
// each test compares what failed with what docs/testing.md documents
// ("What azidentity passes"): a test that failed on every known azidentity
// behaviour would say nothing, and one that tolerated anything would miss
// the day azidentity changes. A new failure, or a documented one that stops
// failing, fails here; update the docs with it.
//
// MSAL Go's managed-identity token cache is process-wide: every
// ManagedIdentityCredential here shares the one emulator's tokens, so a
// "fresh" managed-identity source is warm after the first check. That is
// what the CancelledContext and DeadlineExceeded findings below measure.

// knownFailures maps a check to a text its failure must contain.
type knownFailures map[string]string

// azidentityContextFailures: MSAL turns a cancelled request into an error
// whose text ends in "context canceled" without wrapping it, so errors.Is
// finds neither context.Canceled nor the credential's own error chain.
var azidentityContextFailures = knownFailures{
	"CancelledContext": "does not wrap context.Canceled",
	"CancelDuringCall": "does not wrap context.Canceled",
}

// compareOutcome fails t unless err holds exactly the known failures, and no
// skip.
func compareOutcome(t *testing.T, err error, known knownFailures) {
	t.Helper()
	got := map[string]*conformance.CheckError{}
	if err != nil {
		parts := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			parts = j.Unwrap()
		}
		for _, part := range parts {
			var ce *conformance.CheckError
			if !errors.As(part, &ce) {
				t.Errorf("the run did not complete: %s", redact(part))
				continue
			}
			got[ce.Check] = ce
		}
	}
	for check, ce := range got {
		want, known := known[check]
		switch {
		case ce.Skipped:
			t.Errorf("%s was skipped: %s", check, redact(ce))
		case !known:
			t.Errorf("%s failed, which docs/testing.md does not document: %s", check, redact(ce))
		case !strings.Contains(ce.Error(), want):
			t.Errorf("%s failed differently from what docs/testing.md documents (%q): %s", check, want, redact(ce))
		default:
			t.Logf("%s failed as documented: %s", check, redact(ce))
		}
	}
	for check := range known {
		if got[check] == nil {
			t.Errorf("%s passed, but docs/testing.md documents it as failing for azidentity: update the docs and this test", check)
		}
	}
}

// slowDiscovery makes idp's discovery documents answer after a delay, so that
// CancelDuringCall cancels a fresh azidentity credential mid-flight (while
// MSAL resolves the authority) rather than racing a call that finishes
// within the harness's head start.
func slowDiscovery(t *testing.T, idp *fakeidp.Server) {
	idp.AddFault(fakeidp.Fault{Endpoint: "openid", Latency: 100 * time.Millisecond})
	t.Cleanup(idp.ClearFaults)
}

func TestConformanceManagedIdentitySource(t *testing.T) {
	err := conformance.CheckSource(t.Context(), func() (assertion.Source, error) { return managedIdentitySource(t), nil }, anchorSourceOptions())
	// MSAL serves its process-wide cache before it looks at the context:
	// a done context gets a token and no error.
	compareOutcome(t, err, knownFailures{
		"CancelledContext": "returned no error",
		"DeadlineExceeded": "returned no error",
	})
}

func TestConformanceClientAssertionCredential(t *testing.T) {
	slowDiscovery(t, srv)
	var requests atomic.Int64
	err := conformance.CheckCredential(t.Context(), func() (azcore.TokenCredential, error) {
		return clientAssertionCredential(t, srv, &requests, managedIdentityAssertion(t, nil)), nil
	}, anchorCredentialOptions(&requests))
	compareOutcome(t, err, azidentityContextFailures)
}

func TestConformanceWorkloadIdentityCredential(t *testing.T) {
	slowDiscovery(t, srv)
	var requests atomic.Int64
	err := conformance.CheckCredential(t.Context(), func() (azcore.TokenCredential, error) {
		return workloadIdentityCredential(t, srv, &requests), nil
	}, anchorCredentialOptions(&requests))
	compareOutcome(t, err, azidentityContextFailures)
}

// TestConformanceAzidentityRefresh: with 4-second tokens (a fakeidp of its
// own: MSAL Go would not serve such tokens from its cache anyway, since it
// treats a token within 5 minutes of expiry as expired, so the Caching
// checks are left out), both credentials serve a new token before the old
// one expires and never an expired one.
func TestConformanceAzidentityRefresh(t *testing.T) {
	short, err := fakeidp.New(nil, &fakeidp.Options{TokenLifetime: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(short.Close)
	slowDiscovery(t, short)
	var requests atomic.Int64
	opts := &conformance.CredentialOptions{ExpectRefresh: true, RequireJWT: true}
	t.Run("ClientAssertionCredential", func(t *testing.T) {
		err := conformance.CheckCredential(t.Context(), func() (azcore.TokenCredential, error) {
			tok, err := short.IssueExternalToken(fakeidp.DefaultWorkloadIssuer, fakeidp.DefaultWorkloadSubject, fakeidp.TokenExchangeAudience, time.Hour)
			if err != nil {
				return nil, err
			}
			return clientAssertionCredential(t, short, &requests, func(context.Context) (string, error) { return tok, nil }), nil
		}, opts)
		compareOutcome(t, err, azidentityContextFailures)
	})
	t.Run("WorkloadIdentityCredential", func(t *testing.T) {
		err := conformance.CheckCredential(t.Context(), func() (azcore.TokenCredential, error) {
			return workloadIdentityCredential(t, short, &requests), nil
		}, opts)
		compareOutcome(t, err, azidentityContextFailures)
	})
}

// managedIdentitySource is the glue people write: azidentity's
// ManagedIdentityCredential as an assertion.Source.
func managedIdentitySource(t testing.TB) assertion.Source {
	t.Helper()
	mi, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		t.Fatalf("NewManagedIdentityCredential: %v", err)
	}
	return assertion.Func(func(ctx context.Context) (assertion.Assertion, error) {
		tok, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{exchangeScope}})
		if err != nil {
			return assertion.Assertion{}, err
		}
		return assertion.Assertion{Token: tok.Token, ExpiresOn: tok.ExpiresOn}, nil
	})
}

func anchorSourceOptions() *conformance.SourceOptions {
	return &conformance.SourceOptions{
		Audience:         fakeidp.TokenExchangeAudience,
		Transport:        srv.Client(),
		TokenEndpoint:    srv.URL() + "/" + fakeidp.DefaultConsentedTenantID + "/oauth2/v2.0/token",
		ExchangeClientID: fakeidp.DefaultAppClientID,
	}
}

// notConfiguredTenant is a tenant no credential here allows.
const notConfiguredTenant = "44444444-0000-0000-0000-000000000044"

func anchorCredentialOptions(requests *atomic.Int64) *conformance.CredentialOptions {
	return &conformance.CredentialOptions{
		Tenants:           []string{fakeidp.DefaultHomeTenantID, fakeidp.DefaultConsentedTenantID},
		DisallowedTenant:  notConfiguredTenant,
		ExpectCaching:     true,
		Requests:          func() int { return int(requests.Load()) },
		FailingTenant:     fakeidp.DefaultUnconsentedTenantID,
		FailingTenantCode: fakeidp.CodeAppNotFound,
		HasCode:           azidentityHasCode,
		RequireJWT:        true,
	}
}

// azidentityHasCode reads the AADSTS codes of azidentity's documented error,
// *AuthenticationFailedError, from the Entra answer it carries (RawResponse).
func azidentityHasCode(err error, code int) bool {
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) || afe.RawResponse == nil {
		return false
	}
	body, err := runtime.Payload(afe.RawResponse)
	if err != nil {
		return false
	}
	var answer struct {
		Codes []int `json:"error_codes"`
	}
	if json.Unmarshal(body, &answer) != nil {
		return false
	}
	for _, c := range answer.Codes {
		if c == code {
			return true
		}
	}
	return false
}

// countingTransport counts the token requests (POSTs to a token endpoint)
// that the credential sends.
type countingTransport struct {
	n    *atomic.Int64
	next policy.Transporter
}

func (c countingTransport) Do(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/oauth2/v2.0/token") {
		c.n.Add(1)
	}
	return c.next.Do(req)
}

func anchorClientOptions(idp *fakeidp.Server, requests *atomic.Int64) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: idp.URL() + "/"},
		Transport: countingTransport{requests, idp.Client()},
	}
}

var anchorAllowedTenants = []string{fakeidp.DefaultConsentedTenantID, fakeidp.DefaultUnconsentedTenantID}

func clientAssertionCredential(t testing.TB, idp *fakeidp.Server, requests *atomic.Int64, getAssertion func(context.Context) (string, error)) azcore.TokenCredential {
	t.Helper()
	cred, err := azidentity.NewClientAssertionCredential(fakeidp.DefaultHomeTenantID, fakeidp.DefaultAppClientID, getAssertion, &azidentity.ClientAssertionCredentialOptions{
		ClientOptions:              anchorClientOptions(idp, requests),
		AdditionallyAllowedTenants: anchorAllowedTenants,
		DisableInstanceDiscovery:   true,
	})
	if err != nil {
		t.Fatalf("NewClientAssertionCredential: %v", err)
	}
	return cred
}

func workloadIdentityCredential(t testing.TB, idp *fakeidp.Server, requests *atomic.Int64) azcore.TokenCredential {
	t.Helper()
	tok, err := idp.IssueExternalToken(fakeidp.DefaultWorkloadIssuer, fakeidp.DefaultWorkloadSubject, fakeidp.TokenExchangeAudience, time.Hour)
	if err != nil {
		t.Fatalf("IssueExternalToken: %v", err)
	}
	file := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(file, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions:              anchorClientOptions(idp, requests),
		ClientID:                   fakeidp.DefaultAppClientID,
		TenantID:                   fakeidp.DefaultHomeTenantID,
		TokenFilePath:              file,
		AdditionallyAllowedTenants: anchorAllowedTenants,
		DisableInstanceDiscovery:   true,
	})
	if err != nil {
		t.Fatalf("NewWorkloadIdentityCredential: %v", err)
	}
	return cred
}
