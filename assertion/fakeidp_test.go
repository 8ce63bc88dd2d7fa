package assertion_test

import (
	"context"
	"fmt"
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

// TestPlatformsAgainstEmulator runs FromEnvironment with the variables of a
// GitHub Actions job and of an Arc-enabled server against fakeidp's
// endpoints, and checks the assertion's subject is the one the default app's
// federated credential trusts.
func TestPlatformsAgainstEmulator(t *testing.T) {
	keyDir := t.TempDir()
	srv, err := fakeidp.New(nil, &fakeidp.Options{ArcKeyDirectory: keyDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	cases := []struct {
		name        string
		env         map[string]string
		arc         bool
		wantSubject string
	}{
		{"GitHub Actions", map[string]string{
			assertion.EnvGitHubTokenRequestURL:   srv.GitHubTokenRequestURL(fakeidp.DefaultGitHubIssuer),
			assertion.EnvGitHubTokenRequestToken: srv.GitHubRequestToken(),
		}, false, fakeidp.DefaultGitHubSubject},
		{"Azure Arc", map[string]string{
			"IDENTITY_ENDPOINT": srv.ArcEndpoint(),
			"IMDS_ENDPOINT":     srv.ArcIMDSEndpoint(),
		}, true, fakeidp.DefaultSystemIdentityObjectID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_FEDERATED_TOKEN_FILE",
				"AZURE_POD_IDENTITY_AUTHORITY_HOST", assertion.EnvGitHubTokenRequestURL, assertion.EnvGitHubTokenRequestToken, assertion.EnvAuthorityHost, assertion.EnvManagedIdentityClientID} {
				t.Setenv(k, "")
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			src, err := assertion.FromEnvironment()
			if err != nil {
				t.Fatal(err)
			}
			if tc.arc {
				// FromEnvironment's Arc source trusts the agent's directory
				// only; the fake writes its keys into keyDir.
				if src, err = assertion.AzureArc(&assertion.AzureArcOptions{KeyDirectory: keyDir}); err != nil {
					t.Fatal(err)
				}
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
			if aud, _ := claims.GetAudience(); len(aud) != 1 || aud[0] != assertion.ResourceAzurePublic {
				t.Errorf("aud %v", aud)
			}
			if a.ExpiresOn.IsZero() {
				t.Error("no ExpiresOn")
			}
		})
	}
}

// TestSelectorsAgainstEmulator: each typed selector, on both managed-identity
// protocols, gets the user-assigned identity's assertion from fakeidp.
func TestSelectorsAgainstEmulator(t *testing.T) {
	srv, err := fakeidp.New(nil, &fakeidp.Options{NoListener: true, SigningKeyBits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	t.Setenv(assertion.EnvAuthorityHost, "")
	ids := []assertion.ManagedIDKind{
		assertion.ClientID(fakeidp.DefaultUserIdentityClientID),
		assertion.ObjectID(fakeidp.DefaultUserIdentityObjectID),
		assertion.ResourceID(fakeidp.DefaultUserIdentityResourceID),
	}
	for _, id := range ids {
		for name, build := range map[string]func() (assertion.Source, error){
			"AppService": func() (assertion.Source, error) {
				return assertion.AppService(&assertion.AppServiceOptions{Endpoint: srv.AppServiceEndpoint(), IdentityHeader: srv.IdentityHeader(), ID: id, Transport: srv.Client()})
			},
			"IMDS": func() (assertion.Source, error) {
				return assertion.IMDS(&assertion.IMDSOptions{Endpoint: srv.IMDSEndpoint(), ID: id, Transport: srv.Client()})
			},
		} {
			t.Run(fmt.Sprintf("%s/%T", name, id), func(t *testing.T) {
				src, err := build()
				if err != nil {
					t.Fatal(err)
				}
				a, err := src.Assertion(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				claims := jwt.MapClaims{}
				if _, _, err := jwt.NewParser().ParseUnverified(a.Token, claims); err != nil {
					t.Fatal("not a JWT")
				}
				if sub, _ := claims.GetSubject(); sub != fakeidp.DefaultUserIdentityObjectID {
					t.Errorf("subject %q, want the user-assigned identity", sub)
				}
			})
		}
	}
}
