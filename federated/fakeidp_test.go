package federated_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
)

const graph = "https://graph.microsoft.com/.default"

// newFakeIDPCredential returns a Credential for the default scenario's app
// whose assertions come from the fake App Service managed-identity endpoint
// (the user-assigned identity), as in a Function App.
func newFakeIDPCredential(t *testing.T) (*fakeidp.Server, *federated.Credential) {
	t.Helper()
	srv, err := fakeidp.New(fakeidp.DefaultScenario(), nil)
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	t.Cleanup(srv.Close)
	src, err := assertion.AppService(&assertion.AppServiceOptions{
		Endpoint:       srv.AppServiceEndpoint(),
		IdentityHeader: srv.IdentityHeader(),
		ClientID:       fakeidp.DefaultUserIdentityClientID,
	})
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	cred, err := federated.NewCredential(fakeidp.DefaultHomeTenantID, fakeidp.DefaultAppClientID, src, &federated.Options{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL()},
			Transport: srv.Client(),
		},
		AdditionallyAllowedTenants: []string{"*"},
	})
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	return srv, cred
}

func countRequests(srv *fakeidp.Server) (msi, entra int, paths []string) {
	for _, r := range srv.Requests() {
		switch r.Listener {
		case fakeidp.ListenerMSI:
			msi++
		case fakeidp.ListenerEntra:
			entra++
		}
		paths = append(paths, r.Path)
	}
	return msi, entra, paths
}

func TestFakeIDPEndToEnd(t *testing.T) {
	srv, cred := newFakeIDPCredential(t)
	ctx := context.Background()

	// Consented remote tenant: a token with the granted application role.
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graph}, TenantID: fakeidp.DefaultConsentedTenantID})
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	var claims struct {
		jwt.RegisteredClaims
		TenantID string   `json:"tid"`
		AppID    string   `json:"appid"`
		Roles    []string `json:"roles"`
	}
	if _, _, err := jwt.NewParser().ParseUnverified(tok.Token, &claims); err != nil {
		// err can quote the token's segments; say only what kind of failure it is.
		t.Fatalf("access token (%d bytes, %d segments) is not a JWT (malformed %t)", len(tok.Token), strings.Count(tok.Token, ".")+1, errors.Is(err, jwt.ErrTokenMalformed))
	}
	if claims.TenantID != fakeidp.DefaultConsentedTenantID || claims.AppID != fakeidp.DefaultAppClientID || !slices.Contains(claims.Roles, "Device.Read.All") {
		t.Errorf("token claims tid=%s appid=%s roles=%v, want the consented tenant, the app and Device.Read.All", claims.TenantID, claims.AppID, claims.Roles)
	}
	msi, entra, paths := countRequests(srv)
	if msi != 1 || entra != 1 {
		t.Errorf("first token took %d managed-identity and %d Entra requests (%v), want 1 and 1", msi, entra, paths)
	}
	for _, p := range paths {
		if strings.Contains(p, "openid-configuration") || strings.Contains(p, "discovery") {
			t.Errorf("discovery request %s", p)
		}
	}

	// Not-consented tenant: 700016 with the consent URL for that tenant.
	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graph}, TenantID: fakeidp.DefaultUnconsentedTenantID})
	var ae *federated.AuthError
	if !errors.As(err, &ae) || !ae.HasCode(700016) {
		t.Fatalf("unconsented tenant: err = %v, want *AuthError with 700016", federated.RedactErr(err))
	}
	consentURL := srv.URL() + "/" + fakeidp.DefaultUnconsentedTenantID + "/adminconsent?client_id=" + fakeidp.DefaultAppClientID
	if !strings.Contains(ae.Hint, consentURL) {
		t.Errorf("hint %q lacks the consent URL %s", ae.Hint, consentURL)
	}

	// Unknown tenant: 90002.
	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graph}, TenantID: "99999999-9999-9999-9999-999999999999"})
	if !errors.As(err, &ae) || !ae.HasCode(90002) {
		t.Fatalf("unknown tenant: err = %v, want *AuthError with 90002", federated.RedactErr(err))
	}

	// Cached: no request at all.
	again, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graph}, TenantID: fakeidp.DefaultConsentedTenantID})
	if err != nil || again != tok {
		t.Errorf("second call: err %v, same token %t", federated.RedactErr(err), again == tok)
	}
	msi, entra, paths = countRequests(srv)
	if msi != 1 || entra != 3 {
		t.Errorf("requests: %d managed-identity, %d Entra (%v); want 1 assertion for all tenants and 3 token requests", msi, entra, paths)
	}
}

func TestFakeIDPFICMismatchShowsPresentedSubject(t *testing.T) {
	srv, err := fakeidp.New(fakeidp.DefaultScenario(), nil)
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	defer srv.Close()
	// An external issuer the app trusts, but a subject it does not.
	src := assertion.Func(func(ctx context.Context) (assertion.Assertion, error) {
		tok, err := srv.IssueExternalToken(fakeidp.DefaultWorkloadIssuer, "system:serviceaccount:default:other", fakeidp.TokenExchangeAudience, time.Hour)
		return assertion.Assertion{Token: tok}, err
	})
	cred, err := federated.NewCredential(fakeidp.DefaultHomeTenantID, fakeidp.DefaultAppClientID, src, &federated.Options{
		ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL()}, Transport: srv.Client()},
	})
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graph}})
	var ae *federated.AuthError
	if !errors.As(err, &ae) || !ae.HasCode(700213) {
		t.Fatalf("err = %v, want *AuthError with 700213", federated.RedactErr(err))
	}
	if ae.AssertionSubject != "system:serviceaccount:default:other" || ae.AssertionIssuer != srv.IssuerURL(fakeidp.DefaultWorkloadIssuer) {
		t.Errorf("presented issuer %q subject %q, want the external token's", ae.AssertionIssuer, ae.AssertionSubject)
	}
	if !strings.Contains(ae.Hint, "system:serviceaccount:default:other") {
		t.Errorf("hint %q does not show the presented subject", ae.Hint)
	}
}

func TestFakeIDPNewFromEnvironmentFunctionsVariables(t *testing.T) {
	srv, err := fakeidp.New(fakeidp.DefaultScenario(), nil)
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	defer srv.Close()
	// Functions sets MSI_ENDPOINT/MSI_SECRET next to IDENTITY_*; some hosts
	// name the app CLIENT_ID. Only the fallbacks are set here.
	for k, v := range map[string]string{
		"IDENTITY_ENDPOINT": "", "IDENTITY_HEADER": "", "AZURE_FEDERATED_TOKEN_FILE": "",
		"MSI_ENDPOINT": srv.AppServiceEndpoint(), "MSI_SECRET": srv.IdentityHeader(),
		"AZURE_TENANT_ID": fakeidp.DefaultHomeTenantID, "AZURE_CLIENT_ID": "", "CLIENT_ID": fakeidp.DefaultAppClientID,
		"AZURE_AUTHORITY_HOST": srv.URL(), "AZURE_ADDITIONALLY_ALLOWED_TENANTS": fakeidp.DefaultConsentedTenantID,
	} {
		t.Setenv(k, v)
	}
	cred, err := federated.NewFromEnvironment(&federated.Options{ClientOptions: azcore.ClientOptions{Transport: srv.Client()}})
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graph}, TenantID: fakeidp.DefaultConsentedTenantID}); err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graph}, TenantID: fakeidp.DefaultUnconsentedTenantID}); !errors.Is(err, federated.ErrTenantNotAllowed) {
		t.Errorf("tenant outside AZURE_ADDITIONALLY_ALLOWED_TENANTS: err = %v, want ErrTenantNotAllowed", federated.RedactErr(err))
	}
}

func TestFakeIDPManagedIdentityErrorIsReachable(t *testing.T) {
	srv, err := fakeidp.New(fakeidp.DefaultScenario(), nil)
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	defer srv.Close()
	const wrongHeader = "not-the-identity-header"
	src, err := assertion.AppService(&assertion.AppServiceOptions{Endpoint: srv.AppServiceEndpoint(), IdentityHeader: wrongHeader})
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	cred, err := federated.NewCredential(fakeidp.DefaultHomeTenantID, fakeidp.DefaultAppClientID, src, &federated.Options{
		ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL()}, Transport: srv.Client()},
	})
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graph}})
	var re *assertion.ResponseError
	if !errors.As(err, &re) || re.StatusCode/100 != 4 {
		t.Fatalf("err = %v, want a wrapped *assertion.ResponseError with a 4xx status", federated.Redact(fmt.Sprint(err), wrongHeader, srv.IdentityHeader()))
	}
	if strings.Contains(err.Error(), wrongHeader) || strings.Contains(err.Error(), srv.IdentityHeader()) {
		t.Error("error message contains an identity header")
	}
	_, entra, _ := countRequests(srv)
	if entra != 0 {
		t.Errorf("%d Entra requests without an assertion, want 0", entra)
	}
}

// newRotationCredential returns a Credential whose assertions come from the
// in-process emulator's App Service endpoint (system-assigned identity).
func newRotationCredential(t *testing.T) (*fakeidp.Server, *federated.Credential) {
	t.Helper()
	srv, err := fakeidp.New(nil, &fakeidp.Options{NoListener: true})
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	t.Cleanup(srv.Close)
	src, err := assertion.AppService(&assertion.AppServiceOptions{
		Endpoint:       srv.AppServiceEndpoint(),
		IdentityHeader: srv.IdentityHeader(),
		Transport:      srv.Client(),
	})
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	cred, err := federated.NewCredential(fakeidp.DefaultHomeTenantID, fakeidp.DefaultAppClientID, src, &federated.Options{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL()},
			Transport: srv.Client(),
		},
		AdditionallyAllowedTenants: []string{"*"},
	})
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	return srv, cred
}

// After the issuer rotates its signing keys, the cached 24-hour managed
// identity assertion fails with AADSTS700027; the credential drops it, fetches
// a new one and succeeds instead of failing until the old one expires.
// Likewise after the clocks drift apart (AADSTS700024).
func TestFakeIDPRejectedAssertionIsRefetched(t *testing.T) {
	tests := []struct {
		name    string
		disturb func(*fakeidp.Server)
		code    int // what Entra answers to the old assertion
	}{
		{"key rotation, 700027", (*fakeidp.Server).RotateKeys, fakeidp.CodeInvalidSignature},
		// The emulator's clock runs past the assertion's 24 hours; a new
		// assertion is issued on the emulator's clock and is valid.
		{"clock skew, 700024", func(s *fakeidp.Server) { s.SetClockOffset(25 * time.Hour) }, fakeidp.CodeAssertionTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cred := newRotationCredential(t)
			ctx := context.Background()
			if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graph}, TenantID: fakeidp.DefaultConsentedTenantID}); err != nil {
				t.Fatal(federated.RedactErr(err))
			}
			tt.disturb(srv)
			if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graph}, TenantID: fakeidp.DefaultHomeTenantID}); err != nil {
				t.Fatalf("after the change: %s", federated.RedactErr(err))
			}
			// And the next tenant uses the new assertion at once.
			if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}, TenantID: fakeidp.DefaultConsentedTenantID}); err != nil {
				t.Fatalf("third token: %s", federated.RedactErr(err))
			}
			msi, entra, paths := countRequests(srv)
			if msi != 2 || entra != 4 {
				t.Errorf("requests: %d managed-identity, %d Entra (%v); want 2 and 4 (first token, rejected attempt, retry with the new assertion, third token)", msi, entra, paths)
			}
			var codes []int
			for _, r := range srv.Requests() {
				if r.Listener == fakeidp.ListenerEntra {
					code := 0 // success
					if len(r.ErrorCodes) > 0 {
						code = r.ErrorCodes[0]
					}
					codes = append(codes, code)
				}
			}
			if want := []int{0, tt.code, 0, 0}; !slices.Equal(codes, want) {
				t.Errorf("Entra answered AADSTS codes %v, want %v", codes, want)
			}
		})
	}
}
