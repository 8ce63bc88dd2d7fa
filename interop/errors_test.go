package interop

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"github.com/tenantbridge/tenantbridge/assertion"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// assertionFunc builds, per test, the getAssertion callback handed to
// azidentity.NewClientAssertionCredential.
type assertionFunc func(t *testing.T) func(context.Context) (string, error)

func fromManagedIdentity(t *testing.T) func(context.Context) (string, error) {
	return managedIdentityAssertion(t, nil)
}

// external returns an assertion from an issuer hosted by the fake.
func external(issuer, subject, audience string) assertionFunc {
	return func(t *testing.T) func(context.Context) (string, error) {
		tok := issueExternal(t, issuer, subject, audience, time.Hour)
		return func(context.Context) (string, error) { return tok, nil }
	}
}

func issueExternal(t *testing.T, issuer, subject, audience string, ttl time.Duration) string {
	t.Helper()
	tok, err := srv.IssueExternalToken(issuer, subject, audience, ttl)
	if err != nil {
		t.Fatalf("IssueExternalToken: %v", err)
	}
	return tok
}

// expired is a workload assertion that expired an hour ago: the fake's clock
// is moved back while it signs, so the token is well-formed and correctly
// signed, only late.
func expired(t *testing.T) func(context.Context) (string, error) {
	srv.SetClockOffset(-3 * time.Hour)
	t.Cleanup(func() { srv.SetClockOffset(0) }) // also when issuing fails
	tok := issueExternal(t, fakeidp.DefaultWorkloadIssuer, fakeidp.DefaultWorkloadSubject, fakeidp.TokenExchangeAudience, time.Hour)
	srv.SetClockOffset(0)
	return func(context.Context) (string, error) { return tok, nil }
}

// resigned returns a valid workload assertion re-signed as alg with key,
// keeping the header's kid: what an attacker who can mint JWTs but does not
// hold the issuer's key would present.
func resigned(method jwt.SigningMethod, key func(t *testing.T) any) assertionFunc {
	return func(t *testing.T) func(context.Context) (string, error) {
		valid := issueExternal(t, fakeidp.DefaultWorkloadIssuer, fakeidp.DefaultWorkloadSubject, fakeidp.TokenExchangeAudience, time.Hour)
		claims := jwt.MapClaims{}
		parsed, _, err := jwt.NewParser().ParseUnverified(valid, claims)
		if err != nil {
			t.Fatalf("the fake's assertion is not a JWT: %T", err)
		}
		forged := jwt.NewWithClaims(method, claims)
		forged.Header["kid"] = parsed.Header["kid"]
		tok, err := forged.SignedString(key(t))
		if err != nil {
			t.Fatalf("signing the forged assertion: %v", err)
		}
		return func(context.Context) (string, error) { return tok, nil }
	}
}

func strangerRSAKey(t *testing.T) any {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func noKey(*testing.T) any { return jwt.UnsafeAllowNoneSignatureType }

// issuerPublicKeyPEM is the workload issuer's public key as published in its
// JWKS, PEM-encoded: the HMAC secret of the classic key-confusion attack (a
// verifier that accepts HS256 with "the key" would check an HMAC made with
// public data).
func issuerPublicKeyPEM(t *testing.T) any {
	resp, err := srv.Client().Get(srv.IssuerURL(fakeidp.DefaultWorkloadIssuer) + "/keys")
	if err != nil {
		t.Fatalf("fetching the issuer's JWKS: %v", err)
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct{ N, E string } `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&jwks); err != nil || len(jwks.Keys) == 0 {
		t.Fatalf("the issuer's JWKS has no key (%v)", err)
	}
	n, errN := base64.RawURLEncoding.DecodeString(jwks.Keys[0].N)
	e, errE := base64.RawURLEncoding.DecodeString(jwks.Keys[0].E)
	if errN != nil || errE != nil {
		t.Fatal("the issuer's JWKS key is not base64url")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// tampered is a valid workload assertion with one bit of its signature
// flipped.
func tampered(t *testing.T) func(context.Context) (string, error) {
	valid := issueExternal(t, fakeidp.DefaultWorkloadIssuer, fakeidp.DefaultWorkloadSubject, fakeidp.TokenExchangeAudience, time.Hour)
	i := strings.LastIndexByte(valid, '.')
	sig, err := base64.RawURLEncoding.DecodeString(valid[i+1:])
	if err != nil || len(sig) < 16 {
		t.Fatal("the fake's assertion has no readable signature")
	}
	sig[len(sig)/2] ^= 0x01
	tok := valid[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
	return func(context.Context) (string, error) { return tok, nil }
}

// misconfiguration is a mistake a user can make, and the AADSTS code Entra
// answers it with.
type misconfiguration struct {
	name      string
	tenant    string
	clientID  string
	assertion assertionFunc
	scopes    []string
	code      int
	// refusedLocally, when set, is the error federated.Credential returns
	// before any request, where azidentity sends the request and gets code.
	refusedLocally error
}

// misconfigurations is every mistake the interop tests put to each client.
var misconfigurations = []misconfiguration{
	{
		name:   "tenant did not consent",
		tenant: fakeidp.DefaultUnconsentedTenantID, clientID: fakeidp.DefaultAppClientID,
		assertion: fromManagedIdentity, code: 700016,
	},
	{
		name:   "unknown tenant",
		tenant: unknownTenantID, clientID: fakeidp.DefaultAppClientID,
		assertion: fromManagedIdentity, code: 90002,
	},
	{
		name:   "unknown app",
		tenant: fakeidp.DefaultConsentedTenantID, clientID: "ffffffff-0000-0000-0000-000000000001",
		assertion: fromManagedIdentity, code: 700016,
	},
	{
		name:   "federated credential trusts another identity",
		tenant: fakeidp.DefaultConsentedTenantID, clientID: wrongSubjectAppID,
		assertion: fromManagedIdentity, code: 700213,
	},
	{
		name:   "federated credential subject differs only in case",
		tenant: fakeidp.DefaultConsentedTenantID, clientID: caseSubjectAppID,
		assertion: fromManagedIdentity, code: 700213,
	},
	{
		name:   "workload subject mismatch",
		tenant: fakeidp.DefaultConsentedTenantID, clientID: fakeidp.DefaultAppClientID,
		assertion: external(fakeidp.DefaultWorkloadIssuer, "system:serviceaccount:default:other", fakeidp.TokenExchangeAudience),
		code:      700213,
	},
	{
		name:   "issuer no federated credential trusts",
		tenant: fakeidp.DefaultConsentedTenantID, clientID: fakeidp.DefaultAppClientID,
		assertion: external(strangerIssuer, fakeidp.DefaultWorkloadSubject, fakeidp.TokenExchangeAudience),
		code:      700211,
	},
	{
		name:   "wrong audience",
		tenant: fakeidp.DefaultConsentedTenantID, clientID: fakeidp.DefaultAppClientID,
		assertion: external(fakeidp.DefaultWorkloadIssuer, fakeidp.DefaultWorkloadSubject, "api://AzureADTokenExchangeX"),
		code:      700212,
	},
	{
		name:   "expired assertion",
		tenant: fakeidp.DefaultConsentedTenantID, clientID: fakeidp.DefaultAppClientID,
		assertion: expired, code: 700024,
		// assertion.Cached (under every federated.Credential) refuses an
		// assertion that arrives expired and names the clock skew.
		refusedLocally: assertion.ErrExpired,
	},
	{
		name:   "signed by a key the issuer never published",
		tenant: fakeidp.DefaultConsentedTenantID, clientID: fakeidp.DefaultAppClientID,
		assertion: resigned(jwt.SigningMethodRS256, strangerRSAKey), code: 700027,
	},
	{
		name:   "signature with one bit flipped",
		tenant: fakeidp.DefaultConsentedTenantID, clientID: fakeidp.DefaultAppClientID,
		assertion: tampered, code: 700027,
	},
	{
		name:   "HS256 keyed with the issuer's public key",
		tenant: fakeidp.DefaultConsentedTenantID, clientID: fakeidp.DefaultAppClientID,
		assertion: resigned(jwt.SigningMethodHS256, issuerPublicKeyPEM), code: 700027,
	},
	{
		name:   "unsigned assertion (alg none)",
		tenant: fakeidp.DefaultConsentedTenantID, clientID: fakeidp.DefaultAppClientID,
		assertion: resigned(jwt.SigningMethodNone, noKey), code: 700027,
	},
	{
		name:   "two resources in one request",
		tenant: fakeidp.DefaultConsentedTenantID, clientID: fakeidp.DefaultAppClientID,
		assertion: fromManagedIdentity,
		scopes:    []string{graphScope, "https://management.azure.com/.default"},
		code:      70011,
	},
}

// TestMisconfigurationsSurfaceInAzidentity checks that each mistake a user can
// make reaches azidentity's caller with Entra's AADSTS code, which is what
// the troubleshooting docs are indexed by.
func TestMisconfigurationsSurfaceInAzidentity(t *testing.T) {
	for _, tc := range misconfigurations {
		t.Run(tc.name, func(t *testing.T) {
			getAssertion := tc.assertion(t)
			var presented string
			cred := newAssertionCredential(t, tc.tenant, tc.clientID, func(ctx context.Context) (string, error) {
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
			msg := err.Error()
			if presented != "" && strings.Contains(msg, presented) {
				t.Error("the error message contains the assertion")
			}
			want := "AADSTS" + strconv.Itoa(tc.code)
			if !strings.Contains(msg, want) {
				t.Errorf("the error does not name %s:\n%s", want, redact(msg, presented))
			}
			var authErr *azidentity.AuthenticationFailedError
			if !errors.As(err, &authErr) {
				t.Fatalf("errors.As(*azidentity.AuthenticationFailedError) failed for %T", err)
			}
			if authErr.RawResponse == nil {
				t.Fatal("AuthenticationFailedError.RawResponse is nil")
			}
			if s := authErr.RawResponse.StatusCode; s != http.StatusBadRequest && s != http.StatusUnauthorized {
				t.Errorf("status %d, want 400 or 401", s)
			}
		})
	}
}
