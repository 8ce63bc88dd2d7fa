package interop

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

const (
	graphScope        = "https://graph.microsoft.com/.default"
	exchangeScope     = fakeidp.TokenExchangeAudience + "/.default"
	graphAudience     = "https://graph.microsoft.com"
	deviceReadAllRole = "Device.Read.All"
)

// entraOptions points an azidentity credential at the fake the way a user of a
// private cloud would: authority host through Cloud, no instance discovery
// (it would go to login.microsoft.com), and a transport trusting the fake's CA.
func entraOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL() + "/"},
		Transport: srv.Client(),
	}
}

// managedIdentityAssertion is the glue people write today: azidentity's
// ManagedIdentityCredential yields the assertion for ClientAssertionCredential.
func managedIdentityAssertion(t testing.TB, id azidentity.ManagedIDKind) func(context.Context) (string, error) {
	t.Helper()
	mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: id})
	if err != nil {
		t.Fatalf("NewManagedIdentityCredential: %v", err)
	}
	return func(ctx context.Context) (string, error) {
		tok, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{exchangeScope}})
		return tok.Token, err
	}
}

func newAssertionCredential(t testing.TB, tenant, clientID string, getAssertion func(context.Context) (string, error)) *azidentity.ClientAssertionCredential {
	t.Helper()
	cred, err := azidentity.NewClientAssertionCredential(tenant, clientID, getAssertion, &azidentity.ClientAssertionCredentialOptions{
		ClientOptions:            entraOptions(),
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatalf("NewClientAssertionCredential: %v", err)
	}
	return cred
}

// tokenClaims are the claims these tests check. Tokens are decoded without
// verification: the fake signed them and the point here is what the client
// received; fakeidp's own tests and graphtest verify signatures.
type tokenClaims struct {
	Issuer   string   `json:"iss"`
	Audience string   `json:"aud"`
	Tenant   string   `json:"tid"`
	Subject  string   `json:"sub"`
	ObjectID string   `json:"oid"`
	AppID    string   `json:"appid"`
	Roles    []string `json:"roles"`
	IDType   string   `json:"idtyp"`
	Version  string   `json:"ver"`
}

// claimsOf decodes token's payload without verifying it. A failure message
// never contains the token.
func claimsOf(t testing.TB, token string) tokenClaims {
	t.Helper()
	c, err := decodeClaims(token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// decodeClaims is claimsOf for code without a testing.TB (child programs).
// Its errors never contain the token.
func decodeClaims(token string) (tokenClaims, error) {
	var c tokenClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, fmt.Errorf("the token is not a JWT: %d segments", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, errors.New("the token's payload is not base64url")
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("the token's payload does not decode (%T)", err)
	}
	return c, nil
}

// graphClaims is what a Graph token for the default app must carry in tenant.
func graphClaims(tenant string) tokenClaims {
	return tokenClaims{
		Issuer:   "https://sts.windows.net/" + tenant + "/",
		Audience: graphAudience,
		Tenant:   tenant,
		AppID:    fakeidp.DefaultAppClientID,
		Roles:    []string{deviceReadAllRole},
		IDType:   "app",
		Version:  "1.0",
	}
}

// graphSubset keeps the claims graphClaims predicts; sub and oid are the
// service principal's, which differ per tenant and are the fake's choice.
func graphSubset(c tokenClaims) tokenClaims {
	c.Subject, c.ObjectID = "", ""
	return c
}

func TestManagedIdentityAssertion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		id       azidentity.ManagedIDKind
		objectID string
	}{
		{"system-assigned", nil, fakeidp.DefaultSystemIdentityObjectID},
		{"user-assigned by client ID", azidentity.ClientID(fakeidp.DefaultUserIdentityClientID), fakeidp.DefaultUserIdentityObjectID},
		{"user-assigned by object ID", azidentity.ObjectID(fakeidp.DefaultUserIdentityObjectID), fakeidp.DefaultUserIdentityObjectID},
		{"user-assigned by resource ID", azidentity.ResourceID(fakeidp.DefaultUserIdentityResourceID), fakeidp.DefaultUserIdentityObjectID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := managedIdentityAssertion(t, tc.id)(t.Context())
			if err != nil {
				t.Fatalf("ManagedIdentityCredential.GetToken: %s", redact(err))
			}
			got := claimsOf(t, tok)
			want := tokenClaims{
				Issuer:   srv.IssuerURL(fakeidp.DefaultHomeTenantID),
				Audience: fakeidp.TokenExchangeAudience,
				Tenant:   fakeidp.DefaultHomeTenantID,
				Subject:  tc.objectID,
				ObjectID: tc.objectID,
			}
			got.AppID, got.Roles, got.IDType, got.Version = "", nil, "", ""
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("assertion claims (-want +got):\n%s", diff)
			}
		})
	}
}

// TestManagedIdentityFeedsClientAssertion is the flow of DESIGN.md done with
// azidentity alone: each identity of the Function App, each tenant that
// consented.
func TestManagedIdentityFeedsClientAssertion(t *testing.T) {
	for _, tc := range []struct {
		name   string
		id     azidentity.ManagedIDKind
		tenant string
	}{
		{"system-assigned to remote tenant", nil, fakeidp.DefaultConsentedTenantID},
		{"system-assigned to home tenant", nil, fakeidp.DefaultHomeTenantID},
		{"user-assigned to remote tenant", azidentity.ClientID(fakeidp.DefaultUserIdentityClientID), fakeidp.DefaultConsentedTenantID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetRequests()
			cred := newAssertionCredential(t, tc.tenant, fakeidp.DefaultAppClientID, managedIdentityAssertion(t, tc.id))
			tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
			if err != nil {
				t.Fatalf("ClientAssertionCredential.GetToken: %s", redact(err))
			}
			if diff := cmp.Diff(graphClaims(tc.tenant), graphSubset(claimsOf(t, tok.Token))); diff != "" {
				t.Errorf("Graph token claims (-want +got):\n%s", diff)
			}
			if d := time.Until(tok.ExpiresOn); d < 55*time.Minute || d > 95*time.Minute {
				t.Errorf("ExpiresOn is %v from now, want the fake's 60-90 minute lifetime", d.Round(time.Minute))
			}
			assertTokenRequest(t, tc.tenant, fakeidp.DefaultAppClientID)
		})
	}
}

// assertTokenRequest checks that the fake saw a successful token request for
// tenant and clientID, with the secret form fields redacted.
func assertTokenRequest(t *testing.T, tenant, clientID string) {
	t.Helper()
	for _, r := range srv.Requests() {
		if r.Listener != "entra" || r.Method != "POST" || r.Tenant != tenant {
			continue
		}
		if r.Status != 200 || r.ClientID != clientID {
			t.Errorf("token request: status %d client %q, want 200 %q", r.Status, r.ClientID, clientID)
		}
		if got := r.Form.Get("client_assertion"); got != "[redacted]" {
			t.Error("Requests() did not redact client_assertion")
		}
		if got := r.Form.Get("grant_type"); got != "client_credentials" {
			t.Errorf("grant_type = %q, want client_credentials", got)
		}
		return
	}
	t.Errorf("the fake saw no token request for tenant %s", tenant)
}

func TestWorkloadIdentityCredential(t *testing.T) {
	assertion, err := srv.IssueExternalToken(fakeidp.DefaultWorkloadIssuer, fakeidp.DefaultWorkloadSubject, fakeidp.TokenExchangeAudience, time.Hour)
	if err != nil {
		t.Fatalf("IssueExternalToken: %v", err)
	}
	file := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(file, []byte(assertion), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{fakeidp.DefaultConsentedTenantID, fakeidp.DefaultHomeTenantID} {
		t.Run(tenant, func(t *testing.T) {
			cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
				ClientOptions:            entraOptions(),
				ClientID:                 fakeidp.DefaultAppClientID,
				TenantID:                 tenant,
				TokenFilePath:            file,
				DisableInstanceDiscovery: true,
			})
			if err != nil {
				t.Fatalf("NewWorkloadIdentityCredential: %v", err)
			}
			tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
			if err != nil {
				t.Fatalf("WorkloadIdentityCredential.GetToken: %s", redact(err))
			}
			if diff := cmp.Diff(graphClaims(tenant), graphSubset(claimsOf(t, tok.Token))); diff != "" {
				t.Errorf("Graph token claims (-want +got):\n%s", diff)
			}
		})
	}
}
