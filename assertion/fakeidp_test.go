package assertion_test

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// TestFromEnvironmentAgainstEmulator runs FromEnvironment against the
// emulator's App Service endpoint for both identities of the default
// scenario: the subject of the assertion is the identity the federated
// credential must trust.
func TestFromEnvironmentAgainstEmulator(t *testing.T) {
	srv, err := fakeidp.New(nil, nil) // loopback listeners; the managed-identity one is plain HTTP
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	cases := []struct {
		name, selector, wantSubject string
	}{
		{"system-assigned", "", fakeidp.DefaultSystemIdentityObjectID},
		{"user-assigned", fakeidp.DefaultUserIdentityClientID, fakeidp.DefaultUserIdentityObjectID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"MSI_ENDPOINT", "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_POD_IDENTITY_AUTHORITY_HOST"} {
				t.Setenv(k, "")
			}
			t.Setenv("IDENTITY_ENDPOINT", srv.AppServiceEndpoint())
			t.Setenv("IDENTITY_HEADER", srv.IdentityHeader())
			t.Setenv("AZURE_CLIENT_ID", fakeidp.DefaultAppClientID) // the app registration: must not select an identity
			t.Setenv(assertion.EnvManagedIdentityClientID, tc.selector)
			src, err := assertion.FromEnvironment()
			if err != nil {
				t.Fatal(err)
			}
			a, err := src.Assertion(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(a.Token, claims); err != nil {
				t.Fatal("the emulator's assertion does not parse as a JWT")
			}
			if sub, _ := claims.GetSubject(); sub != tc.wantSubject {
				t.Errorf("assertion subject %q, want %q", sub, tc.wantSubject)
			}
		})
	}
}
