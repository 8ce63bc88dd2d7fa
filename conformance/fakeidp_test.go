package conformance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
)

// The harness against tenantbridge's own sources and credential, with
// fakeidp as the issuer and token endpoint: everything must pass, nothing
// may be skipped (CheckSource and CheckCredential return nil only then).

func newIDP(t *testing.T, opts *fakeidp.Options) *fakeidp.Server {
	t.Helper()
	o := fakeidp.Options{SigningKeyBits: 1024} // a quarter of the signing cost; verification is the same
	if opts != nil {
		o = *opts
		o.SigningKeyBits = 1024
	}
	idp, err := fakeidp.New(nil, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	return idp
}

func appServiceSource(t testing.TB, idp *fakeidp.Server) assertion.Source {
	t.Helper()
	src, err := assertion.AppService(&assertion.AppServiceOptions{
		Endpoint:       idp.AppServiceEndpoint(),
		IdentityHeader: idp.IdentityHeader(),
		Transport:      idp.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// sourceOptions check a source of idp's against it: keys discovered through
// its CA, the assertion exchanged in the consented tenant.
func sourceOptions(idp *fakeidp.Server) *SourceOptions {
	return &SourceOptions{
		Audience:         fakeidp.TokenExchangeAudience,
		Transport:        idp.Client(),
		TokenEndpoint:    idp.URL() + "/" + fakeidp.DefaultConsentedTenantID + "/oauth2/v2.0/token",
		ExchangeClientID: fakeidp.DefaultAppClientID,
	}
}

func TestSourceAppServiceAgainstFakeIDP(t *testing.T) {
	idp := newIDP(t, nil)
	TestSource(t, func(t *testing.T) assertion.Source { return appServiceSource(t, idp) }, sourceOptions(idp))
	if err := CheckSource(t.Context(), func() (assertion.Source, error) { return appServiceSource(t, idp), nil }, sourceOptions(idp)); err != nil {
		t.Errorf("CheckSource(AppService): %v", err)
	}
}

// TestOurSourcesPassEverything: every managed-identity source of package
// assertion, system- and user-assigned, cached or not, and FromEnvironment,
// passes every check with nothing skipped.
func TestOurSourcesPassEverything(t *testing.T) {
	idp := newIDP(t, nil)
	user := fakeidp.DefaultUserIdentityClientID
	for _, tc := range []struct {
		name string
		new  func() (assertion.Source, error)
	}{
		{"AppService user-assigned", func() (assertion.Source, error) {
			return assertion.AppService(&assertion.AppServiceOptions{Endpoint: idp.AppServiceEndpoint(), IdentityHeader: idp.IdentityHeader(), ClientID: user, Transport: idp.Client()})
		}},
		{"IMDS", func() (assertion.Source, error) {
			return assertion.IMDS(&assertion.IMDSOptions{Endpoint: idp.IMDSEndpoint(), Transport: idp.Client()})
		}},
		{"IMDS user-assigned", func() (assertion.Source, error) {
			return assertion.IMDS(&assertion.IMDSOptions{Endpoint: idp.IMDSEndpoint(), ClientID: user, Transport: idp.Client()})
		}},
		{"Cached AppService", func() (assertion.Source, error) { return assertion.Cached(appServiceSource(t, idp)), nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckSource(t.Context(), tc.new, sourceOptions(idp)); err != nil {
				t.Errorf("CheckSource: %v", err)
			}
		})
	}
	t.Run("FromEnvironment", func(t *testing.T) {
		for _, k := range []string{"MSI_ENDPOINT", "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "IMDS_ENDPOINT", "AZURE_MANAGED_IDENTITY_CLIENT_ID"} {
			t.Setenv(k, "")
		}
		t.Setenv("IDENTITY_ENDPOINT", idp.AppServiceEndpoint())
		t.Setenv("IDENTITY_HEADER", idp.IdentityHeader())
		if err := CheckSource(t.Context(), assertion.FromEnvironment, sourceOptions(idp)); err != nil {
			t.Errorf("CheckSource: %v", err)
		}
	})
}

// TestSourceWorkloadFileAgainstFakeIDP: an external issuer's token (AKS
// workload identity), its keys discovered at /issuers/{name}.
func TestSourceWorkloadFileAgainstFakeIDP(t *testing.T) {
	idp := newIDP(t, nil)
	tok, err := idp.IssueExternalToken(fakeidp.DefaultWorkloadIssuer, fakeidp.DefaultWorkloadSubject, fakeidp.TokenExchangeAudience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	newSource := func() (assertion.Source, error) { return assertion.WorkloadFile(file) }
	var notes []string
	o := sourceOptions(idp)
	o.Logf = func(format string, args ...any) { notes = append(notes, format) }
	if err := CheckSource(t.Context(), newSource, o); err != nil {
		t.Errorf("CheckSource(WorkloadFile): %v", err)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "signature verifies") || !strings.Contains(strings.Join(notes, "\n"), "exchanged the assertion") {
		t.Errorf("notes %q; want the signature verified and the assertion exchanged", notes)
	}
}

// TestSourceTokenExchangeRefused: a correctly signed assertion for a subject
// no federated credential names is refused by fakeidp (AADSTS700213), and
// the TokenExchange check says so.
func TestSourceTokenExchangeRefused(t *testing.T) {
	idp := newIDP(t, nil)
	tok, err := idp.IssueExternalToken(fakeidp.DefaultWorkloadIssuer, "system:serviceaccount:default:stranger", fakeidp.TokenExchangeAudience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	o := sourceOptions(idp).withDefaults()
	if errs := runSourceCheck(t, "IssuerSignature", assertion.Static(tok), &o); len(errs) != 0 {
		t.Errorf("IssuerSignature: %s; want nothing (the signature is good)", redactSecrets(strings.Join(errStrings(errs), "; "), []string{tok}))
	}
	errs := runSourceCheck(t, "TokenExchange", assertion.Static(tok), &o)
	if !anyContains(errs, "refused the assertion") || !anyContains(errs, "700213") || !anyContains(errs, "must be accepted by a token endpoint whose app trusts its issuer, subject and audience") {
		t.Errorf("TokenExchange: %s; want the refusal with AADSTS700213 and the contract", redactSecrets(strings.Join(errStrings(errs), "; "), []string{tok}))
	}
	for _, err := range errs {
		if containsSecret(err.Error(), tok) {
			t.Error("the report contains the assertion")
		}
	}
	o.ExchangeClientID = ""
	if errs := runSourceCheck(t, "TokenExchange", assertion.Static(tok), &o); !anyContains(errs, "ExchangeClientID is empty") {
		t.Errorf("TokenExchange without ExchangeClientID: %q; want the missing option named", errStrings(errs))
	}
}

func errStrings(errs []error) []string {
	out := make([]string, len(errs))
	for i, err := range errs {
		out[i] = err.Error()
	}
	return out
}

func tokenRequests(idp *fakeidp.Server) func() int {
	return func() int {
		n := 0
		for _, r := range idp.Requests() {
			if r.Listener == fakeidp.ListenerEntra && strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
				n++
			}
		}
		return n
	}
}

// notConfiguredTenant is a tenant no credential here is configured for.
const notConfiguredTenant = "44444444-0000-0000-0000-000000000044"

func federatedCredential(t testing.TB, idp *fakeidp.Server) azcore.TokenCredential {
	t.Helper()
	cred, err := federated.NewCredential(fakeidp.DefaultHomeTenantID, fakeidp.DefaultAppClientID, appServiceSource(t, idp), &federated.Options{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: idp.URL()},
			Transport: idp.Client(),
		},
		// The unconsented tenant is allowed, so that Entra (the fake) is
		// the one that refuses it.
		AdditionallyAllowedTenants: []string{fakeidp.DefaultConsentedTenantID, fakeidp.DefaultUnconsentedTenantID},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func federatedOptions(idp *fakeidp.Server) *CredentialOptions {
	return &CredentialOptions{
		Tenants:           []string{fakeidp.DefaultHomeTenantID, fakeidp.DefaultConsentedTenantID},
		DisallowedTenant:  notConfiguredTenant,
		ExpectCaching:     true,
		Requests:          tokenRequests(idp),
		FailingTenant:     fakeidp.DefaultUnconsentedTenantID,
		FailingTenantCode: fakeidp.CodeAppNotFound,
		RequireJWT:        true,
	}
}

func TestCredentialFederatedAgainstFakeIDP(t *testing.T) {
	idp := newIDP(t, nil)
	TestCredential(t, func(t *testing.T) azcore.TokenCredential { return federatedCredential(t, idp) }, federatedOptions(idp))
}

// TestCredentialFederatedRefresh: with 4-second tokens from the fake,
// federated.Credential refreshes ahead (at half-life) and passes every
// check, Refresh included, with nothing skipped.
func TestCredentialFederatedRefresh(t *testing.T) {
	t.Parallel()
	idp := newIDP(t, &fakeidp.Options{TokenLifetime: 4 * time.Second})
	o := federatedOptions(idp)
	o.ExpectRefresh = true
	if err := CheckCredential(t.Context(), func() (azcore.TokenCredential, error) { return federatedCredential(t, idp), nil }, o); err != nil {
		t.Errorf("CheckCredential(federated.Credential, 4-second tokens): %v", err)
	}
}
