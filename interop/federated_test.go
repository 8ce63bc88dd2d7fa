package interop

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
)

// newFederated is tenantbridge's credential for the same app, fed by the same
// getAssertion as the azidentity credential it is compared with.
func newFederated(t *testing.T, tenant, clientID string, getAssertion func(context.Context) (string, error)) *federated.Credential {
	t.Helper()
	src := assertion.Func(func(ctx context.Context) (assertion.Assertion, error) {
		tok, err := getAssertion(ctx)
		return assertion.Assertion{Token: tok}, err
	})
	cred, err := federated.NewCredential(tenant, clientID, src, &federated.Options{ClientOptions: entraOptions()})
	if err != nil {
		t.Fatalf("federated.NewCredential: %v", err)
	}
	return cred
}

// TestFederatedAgreesWithAzidentity gets a Graph token with both credentials
// from the same fake and compares what a resource server would see.
func TestFederatedAgreesWithAzidentity(t *testing.T) {
	for _, tenant := range []string{fakeidp.DefaultConsentedTenantID, fakeidp.DefaultHomeTenantID} {
		t.Run(tenant, func(t *testing.T) {
			get := managedIdentityAssertion(t, nil)
			creds := map[string]azcore.TokenCredential{
				"azidentity":   newAssertionCredential(t, tenant, fakeidp.DefaultAppClientID, get),
				"tenantbridge": newFederated(t, tenant, fakeidp.DefaultAppClientID, get),
			}
			got := map[string]tokenClaims{}
			for name, cred := range creds {
				tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
				if err != nil {
					t.Fatalf("%s: %s", name, redact(err))
				}
				got[name] = claimsOf(t, tok.Token)
			}
			if diff := cmp.Diff(got["azidentity"], got["tenantbridge"]); diff != "" {
				t.Errorf("claims (-azidentity +tenantbridge):\n%s", diff)
			}
			if diff := cmp.Diff(graphClaims(tenant), graphSubset(got["tenantbridge"])); diff != "" {
				t.Errorf("tenantbridge claims (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMisconfigurationsSurfaceInFederated puts every misconfiguration of the
// azidentity test to federated.Credential: the same AADSTS code must reach
// the caller, as *federated.AuthError, without the assertion in the message.
func TestMisconfigurationsSurfaceInFederated(t *testing.T) {
	for _, tc := range misconfigurations {
		t.Run(tc.name, func(t *testing.T) {
			getAssertion := tc.assertion(t)
			var presented string
			cred := newFederated(t, tc.tenant, tc.clientID, func(ctx context.Context) (string, error) {
				a, err := getAssertion(ctx)
				presented = a
				return a, err
			})
			scopes := tc.scopes
			if scopes == nil {
				scopes = []string{graphScope}
			}
			_, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: scopes})
			if err == nil {
				t.Fatalf("GetToken succeeded, want AADSTS%d", tc.code)
			}
			if presented != "" && strings.Contains(err.Error(), presented) {
				t.Error("the error message contains the assertion")
			}
			if tc.refusedLocally != nil {
				if !errors.Is(err, tc.refusedLocally) {
					t.Fatalf("err = %s, want one matching %v (refused before the token request)", redact(err), tc.refusedLocally)
				}
				return
			}
			var authErr *federated.AuthError
			if !errors.As(err, &authErr) {
				t.Fatalf("errors.As(*federated.AuthError) failed for %T", err)
			}
			if !slices.Contains(authErr.ErrorCodes, tc.code) {
				t.Errorf("ErrorCodes = %v, want %d", authErr.ErrorCodes, tc.code)
			}
			if authErr.Tenant != tc.tenant {
				t.Errorf("Tenant = %q, want %q", authErr.Tenant, tc.tenant)
			}
		})
	}
}
