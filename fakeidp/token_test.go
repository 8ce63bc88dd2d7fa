package fakeidp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

const (
	singleTenantAppID = "dddddddd-dddd-dddd-dddd-dddddddddddd"
	githubAppID       = "eeeeeeee-eeee-eeee-eeee-eeeeeeeeeeee"
	githubIssuer      = "https://token.actions.githubusercontent.com"
)

// tokenScenario is DefaultScenario plus a single-tenant app, an app trusting
// an issuer the fake does not host, and a hosted issuer no credential trusts.
func tokenScenario() *Scenario {
	sc := DefaultScenario()
	sc.Apps = append(sc.Apps,
		App{ClientID: singleTenantAppID, DisplayName: "single", HomeTenant: DefaultHomeTenantID,
			FederatedCredentials: []FederatedCredential{{Name: "mi", Issuer: "{authority}/" + DefaultHomeTenantID + "/v2.0", Subject: DefaultSystemIdentityObjectID, Audiences: []string{TokenExchangeAudience}}}},
		App{ClientID: githubAppID, DisplayName: "github", HomeTenant: DefaultHomeTenantID, MultiTenant: true,
			FederatedCredentials: []FederatedCredential{{Name: "gh", Issuer: githubIssuer, Subject: "repo:o/r:ref:refs/heads/main", Audiences: []string{TokenExchangeAudience}}}},
	)
	sc.Issuers = append(sc.Issuers, ExternalIssuer{Name: "other"})
	return sc
}

var (
	sharedOnce sync.Once
	sharedSrv  *Server
	sharedErr  error
)

// sharedServer is one NoListener fake with a fixed clock for the read-only
// token tests (generating RSA keys for each would slow the suite).
func sharedServer(t testing.TB) *Server {
	sharedOnce.Do(func() {
		sharedSrv, sharedErr = New(tokenScenario(), &Options{NoListener: true, Clock: func() time.Time { return testNow }})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedSrv
}

// signed signs claims with key under kid and algorithm RS256.
func signed(t testing.TB, key *rsa.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// miClaims are the claims of the system identity's assertion at testNow.
func miClaims(s *Server) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": s.IssuerURL(DefaultHomeTenantID), "sub": DefaultSystemIdentityObjectID, "aud": TokenExchangeAudience,
		"iat": testNow.Unix(), "nbf": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix(),
	}
}

func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestTokenEndpointValidation(t *testing.T) {
	s := sharedServer(t)
	entra := s.currentKey()
	workloadKey, _ := s.hostedIssuerKey(DefaultWorkloadIssuer) // made on first use
	otherKey, _ := s.hostedIssuerKey("other")
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := miAssertion(t, s, systemIdentity(s))
	mi := func(kv ...any) string { return signed(t, entra.priv, entra.kid, with(miClaims(s), kv...)) }
	ext := func(kv ...any) string {
		c := jwt.MapClaims{"iss": s.IssuerURL(DefaultWorkloadIssuer), "sub": DefaultWorkloadSubject, "aud": TokenExchangeAudience,
			"iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix()}
		return signed(t, workloadKey.priv, workloadKey.kid, with(c, kv...))
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, miClaims(s))
		tok.Header["kid"] = entra.kid
		v, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	hs256 := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, miClaims(s))
		tok.Header["kid"] = entra.kid
		v, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&entra.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	tampered := func() string {
		p := strings.Split(valid, ".")
		c := claimsOf(t, valid)
		c["sub"] = DefaultUserIdentityObjectID
		b, _ := json.Marshal(c)
		return p[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + p[2]
	}

	form := func(a string, kv ...string) url.Values {
		f := assertionForm(DefaultAppClientID, a)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				f.Del(kv[i])
				continue
			}
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	tests := []struct {
		name     string
		tenant   string
		form     url.Values
		status   int
		code     int
		errName  string
		descHas  string // substring of error_description
		descLack string // must not appear
	}{
		{name: "system identity, consented tenant", tenant: DefaultConsentedTenantID, form: form(valid), status: 200},
		{name: "system identity, home tenant", tenant: DefaultHomeTenantID, form: form(valid), status: 200},
		{name: "user identity", tenant: DefaultConsentedTenantID, form: form(miAssertion(t, s, userIdentity(s))), status: 200},
		{name: "workload identity token", tenant: DefaultConsentedTenantID, form: form(ext()), status: 200},
		{name: "v2 resource", tenant: DefaultConsentedTenantID, form: form(valid, "scope", "api://"+DefaultAppClientID+"/.default"), status: 200},
		{name: "app as resource by client ID", tenant: DefaultConsentedTenantID, form: form(valid, "scope", DefaultAppClientID+"/.default"), status: 200},
		{name: "ARM, core audience as the ARM SDK asks", tenant: DefaultConsentedTenantID, form: form(valid, "scope", "https://management.core.windows.net//.default"), status: 200},
		{name: "ARM, azure.com audience", tenant: DefaultConsentedTenantID, form: form(valid, "scope", "https://management.azure.com/.default"), status: 200},
		{name: "Key Vault", tenant: DefaultConsentedTenantID, form: form(valid, "scope", "https://vault.azure.net/.default"), status: 200},
		{name: "Storage", tenant: DefaultConsentedTenantID, form: form(valid, "scope", "https://storage.azure.com/.default"), status: 200},
		{name: "unknown resource", tenant: DefaultConsentedTenantID, form: form(valid, "scope", "api://contoso-api/.default"), status: 400, code: codeInvalidResource, errName: "invalid_resource",
			descHas: "The resource principal named api://contoso-api was not found in the tenant named Fabrikam (consented)."},
		{name: "misspelt ARM host", tenant: DefaultConsentedTenantID, form: form(valid, "scope", "https://managements.azure.com/.default"), status: 400, code: codeInvalidResource, errName: "invalid_resource"},
		{name: "graph by app ID", tenant: DefaultConsentedTenantID, form: form(valid, "scope", "00000003-0000-0000-c000-000000000000/.default"), status: 200},
		{name: "unknown form fields tolerated", tenant: DefaultConsentedTenantID, form: form(valid, "x-client-SKU", "msal.js.node", "x-ms-lib-capability", "retry-after, h429", "client-request-id", "abc"), status: 200},
		{name: "expired within clock skew", tenant: DefaultConsentedTenantID, form: form(mi("exp", testNow.Add(-assertionClockSkew+time.Minute).Unix())), status: 200},
		{name: "aud as array", tenant: DefaultConsentedTenantID, form: form(mi("aud", []string{"x", TokenExchangeAudience})), status: 200},

		{name: "unknown tenant", tenant: "99999999-9999-9999-9999-999999999999", form: form("garbage"), status: 400, code: codeInvalidTenant, errName: "invalid_request", descHas: "Tenant '99999999-9999-9999-9999-999999999999' not found"},
		{name: "common", tenant: "common", form: form(valid), status: 400, code: codeCommonEndpoint, errName: "invalid_request"},
		{name: "organizations", tenant: "organizations", form: form(valid), status: 400, code: codeCommonEndpoint},
		{name: "missing grant_type", tenant: DefaultConsentedTenantID, form: form(valid, "grant_type", ""), status: 400, code: codeMissingParameter, descHas: "'grant_type'"},
		{name: "unsupported grant", tenant: DefaultConsentedTenantID, form: form(valid, "grant_type", "password"), status: 400, code: codeUnsupportedGrant, errName: "unsupported_grant_type"},
		{name: "missing client_id", tenant: DefaultConsentedTenantID, form: form(valid, "client_id", ""), status: 400, code: codeMissingParameter, descHas: "'client_id'"},
		{name: "missing scope", tenant: DefaultConsentedTenantID, form: form(valid, "scope", ""), status: 400, code: codeMissingParameter, descHas: "'scope'"},
		{name: "two resources", tenant: DefaultConsentedTenantID, form: form(valid, "scope", "https://graph.microsoft.com/.default https://management.azure.com/.default"), status: 400, code: codeInvalidScope, errName: "invalid_scope"},
		{name: "only OIDC scopes", tenant: DefaultConsentedTenantID, form: form(valid, "scope", "openid profile offline_access"), status: 400, code: codeInvalidScope},
		{name: "scope without .default", tenant: DefaultConsentedTenantID, form: form(valid, "scope", "https://graph.microsoft.com/Device.Read.All"), status: 400, code: codeScopeNotDefault, errName: "invalid_scope"},
		{name: "unknown app", tenant: DefaultConsentedTenantID, form: form("garbage", "client_id", "12345678-0000-0000-0000-000000000000"), status: 400, code: CodeAppNotFound, errName: "unauthorized_client"},
		{name: "single-tenant app elsewhere", tenant: DefaultConsentedTenantID, form: form(valid, "client_id", singleTenantAppID), status: 400, code: CodeAppNotFound},
		{name: "single-tenant app at home", tenant: DefaultHomeTenantID, form: form(valid, "client_id", singleTenantAppID), status: 200},
		{name: "missing assertion", tenant: DefaultConsentedTenantID, form: form(valid, "client_assertion", ""), status: 401, code: codeMissingAssertion, errName: "invalid_client"},
		{name: "client secret instead", tenant: DefaultConsentedTenantID, form: form(valid, "client_assertion", "", "client_secret", "s3cret"), status: 401, code: codeInvalidClientSecret, descLack: "s3cret"},
		{name: "missing assertion type", tenant: DefaultConsentedTenantID, form: form(valid, "client_assertion_type", ""), status: 400, code: codeMissingParameter, descHas: "'client_assertion_type'"},
		{name: "wrong assertion type", tenant: DefaultConsentedTenantID, form: form(valid, "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"), status: 400, code: codeUnexpectedAssertionType},
		{name: "not a JWT", tenant: DefaultConsentedTenantID, form: form("not-a-jwt"), status: 400, code: codeMalformedJWT},
		{name: "three bad segments", tenant: DefaultConsentedTenantID, form: form("a.b.c"), status: 400, code: codeMalformedJWT},
		{name: "alg none", tenant: DefaultConsentedTenantID, form: form(none()), status: 401, code: CodeInvalidSignature, errName: "invalid_client", descHas: "'none'"},
		{name: "HS256 keyed with public key PEM", tenant: DefaultConsentedTenantID, form: form(hs256(pubPEM)), status: 401, code: CodeInvalidSignature, descHas: "'HS256'"},
		{name: "HS256 keyed with modulus", tenant: DefaultConsentedTenantID, form: form(hs256(entra.priv.N.Bytes())), status: 401, code: CodeInvalidSignature},
		{name: "unknown kid", tenant: DefaultConsentedTenantID, form: form(signed(t, stranger, "no-such-kid", miClaims(s))), status: 401, code: CodeInvalidSignature, descHas: "'no-such-kid'"},
		{name: "known kid, other key", tenant: DefaultConsentedTenantID, form: form(signed(t, stranger, entra.kid, miClaims(s))), status: 401, code: CodeInvalidSignature},
		{name: "tampered payload", tenant: DefaultConsentedTenantID, form: form(tampered()), status: 401, code: CodeInvalidSignature},
		{name: "Entra key for external issuer", tenant: DefaultConsentedTenantID, form: form(mi("iss", s.IssuerURL(DefaultWorkloadIssuer), "sub", DefaultWorkloadSubject)), status: 401, code: CodeInvalidSignature},
		{name: "expired", tenant: DefaultConsentedTenantID, form: form(mi("exp", testNow.Add(-10*time.Minute).Unix())), status: 401, code: CodeAssertionTime, errName: "invalid_client"},
		{name: "not yet valid", tenant: DefaultConsentedTenantID, form: form(mi("nbf", testNow.Add(10*time.Minute).Unix())), status: 401, code: CodeAssertionTime},
		{name: "no exp", tenant: DefaultConsentedTenantID, form: form(mi("exp", nil)), status: 401, code: CodeAssertionTime},
		{name: "issuer no credential trusts", tenant: DefaultConsentedTenantID, form: form(signed(t, otherKey.priv, otherKey.kid, with(miClaims(s), "iss", s.IssuerURL("other")))), status: 401, code: codeFICIssuer, errName: "invalid_client", descLack: "differs only in letter case"},
		{name: "issuer not hosted", tenant: DefaultConsentedTenantID, form: form(mi("iss", "https://issuer.example.test/")), status: 401, code: codeFICIssuer},
		{name: "issuer differs in case", tenant: DefaultConsentedTenantID, form: form(mi("iss", s.URL()+"/"+DefaultHomeTenantID+"/V2.0")), status: 401, code: codeFICIssuer, descHas: "differs only in letter case"},
		{name: "trusted issuer not hosted", tenant: DefaultHomeTenantID, form: form(mi("iss", githubIssuer), "client_id", githubAppID), status: 401, code: CodeInvalidSignature},
		{name: "wrong subject", tenant: DefaultConsentedTenantID, form: form(mi("sub", "00000000-0000-0000-0000-000000000000")), status: 401, code: codeFICSubject, descHas: "'00000000-0000-0000-0000-000000000000'", descLack: "letter case"},
		{name: "subject differs in case", tenant: DefaultConsentedTenantID, form: form(ext("sub", "System:serviceaccount:default:workload")), status: 401, code: codeFICSubject, descHas: "differs only in letter case"},
		{name: "object ID subject differs in case", tenant: DefaultConsentedTenantID, form: form(mi("sub", strings.ToUpper(DefaultSystemIdentityObjectID))), status: 401, code: codeFICSubject, descHas: "differs only in letter case"},
		{name: "wrong audience", tenant: DefaultConsentedTenantID, form: form(mi("aud", "https://management.azure.com")), status: 401, code: codeFICAudience, descLack: "letter case"},
		{name: "audience differs in case", tenant: DefaultConsentedTenantID, form: form(ext("aud", "api://azureadtokenexchange")), status: 401, code: codeFICAudience, descHas: "differs only in letter case"},
		{name: "not consented", tenant: DefaultUnconsentedTenantID, form: form(valid), status: 400, code: CodeAppNotFound, errName: "unauthorized_client", descHas: "Northwind (not consented)"},

		// Order: each misconfiguration yields one code.
		{name: "order: tenant before everything", tenant: "nope", form: url.Values{}, status: 400, code: codeInvalidTenant},
		{name: "order: app before assertion", tenant: DefaultConsentedTenantID, form: form(mi("exp", int64(0)), "client_id", "12345678-0000-0000-0000-000000000000"), status: 400, code: CodeAppNotFound},
		{name: "order: signature before FIC", tenant: DefaultConsentedTenantID, form: form(signed(t, stranger, entra.kid, with(miClaims(s), "sub", "x"))), status: 401, code: CodeInvalidSignature},
		{name: "order: time before FIC", tenant: DefaultConsentedTenantID, form: form(mi("exp", testNow.Add(-time.Hour).Unix(), "sub", "x")), status: 401, code: CodeAssertionTime},
		{name: "order: assertion before consent", tenant: DefaultUnconsentedTenantID, form: form(mi("exp", testNow.Add(-time.Hour).Unix())), status: 401, code: CodeAssertionTime},
		{name: "order: FIC before consent", tenant: DefaultUnconsentedTenantID, form: form(mi("sub", "x")), status: 401, code: codeFICSubject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := postToken(t, s, tc.tenant, tc.form)
			if a.Status != tc.status || a.code() != tc.code {
				t.Fatalf("status %d code %d, want %d %d; error %v", a.Status, a.code(), tc.status, tc.code, a.Body["error"])
			}
			if tc.status == 200 {
				for _, k := range []string{"access_token", "token_type", "expires_in", "ext_expires_in"} {
					if _, ok := a.Body[k]; !ok {
						t.Errorf("success body lacks %q", k)
					}
				}
				return
			}
			desc, _ := a.Body["error_description"].(string)
			if !strings.HasPrefix(desc, "AADSTS") {
				t.Errorf("error_description does not start with AADSTS: %q", desc)
			}
			for _, k := range []string{"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id"} {
				if _, ok := a.Body[k]; !ok {
					t.Errorf("error body lacks %q", k)
				}
			}
			if tc.errName != "" && a.Body["error"] != tc.errName {
				t.Errorf("error = %v, want %s", a.Body["error"], tc.errName)
			}
			if tc.descHas != "" && !strings.Contains(desc, tc.descHas) {
				t.Errorf("error_description %q lacks %q", desc, tc.descHas)
			}
			if tc.descLack != "" && strings.Contains(desc, tc.descLack) {
				t.Errorf("error_description %q contains %q", desc, tc.descLack)
			}
			if a := tc.form.Get("client_assertion"); len(a) > 20 && strings.Contains(desc, a) {
				t.Error("error_description contains the assertion")
			}
		})
	}
}

func TestTokenEndpointErrorFormat(t *testing.T) {
	s := sharedServer(t)
	a := postToken(t, s, DefaultUnconsentedTenantID, assertionForm(DefaultAppClientID, miAssertion(t, s, systemIdentity(s))))
	desc := a.Body["error_description"].(string)
	// Entra's layout: the message on the first line, then CRLF-separated
	// lines with the IDs and the time, as recorded answers show.
	lines := strings.Split(desc, "\r\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "AADSTS700016: Application with identifier") || strings.ContainsAny(lines[0], "\r\n") {
		t.Fatalf("error_description %q: want 4 CRLF-separated lines, the first AADSTS700016's message", desc)
	}
	want := []string{"Trace ID: " + a.Body["trace_id"].(string), "Correlation ID: " + a.Body["correlation_id"].(string), "Timestamp: 2026-11-27 10:00:00Z"}
	if diff := cmp.Diff(want, lines[1:]); diff != "" {
		t.Errorf("error_description's last lines (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{float64(700016)}, a.Body["error_codes"]); diff != "" {
		t.Errorf("error_codes (-want +got):\n%s", diff)
	}
	if a.Body["timestamp"] != "2026-11-27 10:00:00Z" {
		t.Errorf("timestamp = %v", a.Body["timestamp"])
	}
}

func TestTokenEndpointMethodAndBody(t *testing.T) {
	s := sharedServer(t)
	rec := serve(s.Handler(), "GET", "/"+DefaultHomeTenantID+"/oauth2/v2.0/token", "", nil)
	if a := decodeAnswer(t, rec.Code, rec.Body.Bytes()); a.Status != 400 || a.code() != codePostOnly {
		t.Errorf("GET: status %d code %d", a.Status, a.code())
	}
	huge := "grant_type=client_credentials&pad=" + strings.Repeat("x", maxFormBytes)
	rec = serve(s.Handler(), "POST", "/"+DefaultHomeTenantID+"/oauth2/v2.0/token", huge, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if a := decodeAnswer(t, rec.Code, rec.Body.Bytes()); a.Status != 413 || a.code() != codeBodyTooLarge {
		t.Errorf("oversize form: status %d code %d", a.Status, a.code())
	}
	// A JSON body is not a form: Entra then misses grant_type.
	rec = serve(s.Handler(), "POST", "/"+DefaultHomeTenantID+"/oauth2/v2.0/token", `{"grant_type":"client_credentials"}`, map[string]string{"Content-Type": "application/json"})
	if a := decodeAnswer(t, rec.Code, rec.Body.Bytes()); a.Status != 400 || a.code() != codeMissingParameter {
		t.Errorf("JSON body: status %d code %d", a.Status, a.code())
	}
}

// verifyWithJWKS checks an access token against the JWKS at KeysURL, as a
// resource server would.
func verifyWithJWKS(t *testing.T, s *Server, tok string) jwt.MapClaims {
	t.Helper()
	_, doc, _ := get(t, s.Client(), s.KeysURL(), nil)
	keys := map[string]*rsa.PublicKey{}
	for _, k := range doc["keys"].([]any) {
		m := k.(map[string]any)
		keys[m["kid"].(string)] = jwkPublicKey(t, m)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now)).ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
		k := keys[tk.Header["kid"].(string)]
		if k == nil {
			return nil, jwt.ErrTokenUnverifiable
		}
		return k, nil
	})
	if err != nil {
		t.Fatalf("token does not verify with the JWKS: %v", err)
	}
	return claims
}

func jwkPublicKey(t *testing.T, m map[string]any) *rsa.PublicKey {
	t.Helper()
	n, err := base64.RawURLEncoding.DecodeString(m["n"].(string))
	if err != nil {
		t.Fatal(err)
	}
	e, err := base64.RawURLEncoding.DecodeString(m["e"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var ei int
	for _, b := range e {
		ei = ei<<8 | int(b)
	}
	pk := &rsa.PublicKey{E: ei}
	pk.N = new(big.Int).SetBytes(n)
	return pk
}

func TestIssuedTokenClaims(t *testing.T) {
	s := sharedServer(t)
	a := miAssertion(t, s, systemIdentity(s))
	sp := servicePrincipalObjectID(DefaultConsentedTenantID, DefaultAppClientID)

	t.Run("graph v1", func(t *testing.T) {
		ans := postToken(t, s, DefaultConsentedTenantID, assertionForm(DefaultAppClientID, a))
		if ans.Status != 200 {
			t.Fatalf("status %d: %v", ans.Status, ans.Body["error_description"])
		}
		if ans.Body["token_type"] != "Bearer" || ans.Body["expires_in"] != float64(75*60) || ans.Body["ext_expires_in"] != float64(75*60) {
			t.Errorf("body = token_type %v expires_in %v ext_expires_in %v", ans.Body["token_type"], ans.Body["expires_in"], ans.Body["ext_expires_in"])
		}
		if _, ok := ans.Body["refresh_in"]; ok {
			t.Error("refresh_in sent for a 75-minute token")
		}
		tok := ans.Body["access_token"].(string)
		c := verifyWithJWKS(t, s, tok)
		delete(c, "uti")
		want := jwt.MapClaims{
			"aud": "https://graph.microsoft.com", "iss": "https://sts.windows.net/" + DefaultConsentedTenantID + "/",
			"idp": "https://sts.windows.net/" + DefaultHomeTenantID + "/", "appid": DefaultAppClientID, "appidacr": "2",
			"app_displayname": "tenantbridge devices", "ver": "1.0", "tid": DefaultConsentedTenantID, "oid": sp, "sub": sp,
			"idtyp": "app", "roles": []any{"Device.Read.All"},
			"iat": float64(testNow.Unix()), "nbf": float64(testNow.Unix()), "exp": float64(testNow.Add(75 * time.Minute).Unix()),
		}
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
		if h := headerOf(t, tok); h.Alg != "RS256" || h.Kid != s.currentKey().kid {
			t.Errorf("header = %+v", h)
		}
	})
	for _, tc := range []struct{ scope, aud string }{
		{"https://management.core.windows.net//.default", "https://management.core.windows.net/"},
		{"https://management.azure.com/.default", "https://management.azure.com"},
		{"https://MANAGEMENT.azure.com//.default", "https://management.azure.com/"},
		{"797f4846-ba00-4fd7-ba43-dac1f8f63013/.default", "https://management.core.windows.net/"},
		{"https://vault.azure.net/.default", "https://vault.azure.net"},
	} {
		t.Run("v1 for "+tc.scope, func(t *testing.T) {
			f := assertionForm(DefaultAppClientID, a)
			f.Set("scope", tc.scope)
			ans := postToken(t, s, DefaultConsentedTenantID, f)
			if ans.Status != 200 {
				t.Fatalf("status %d: %v", ans.Status, ans.Body["error_description"])
			}
			c := verifyWithJWKS(t, s, ans.Body["access_token"].(string))
			for k, want := range map[string]any{"aud": tc.aud, "iss": "https://sts.windows.net/" + DefaultConsentedTenantID + "/", "ver": "1.0", "appid": DefaultAppClientID, "appidacr": "2", "tid": DefaultConsentedTenantID} {
				if c[k] != want {
					t.Errorf("%s = %v, want %v", k, c[k], want)
				}
			}
			if _, ok := c["azp"]; ok {
				t.Error("a v1 token carries azp")
			}
		})
	}
	t.Run("v2 resource", func(t *testing.T) {
		f := assertionForm(DefaultAppClientID, a)
		f.Set("scope", "api://"+DefaultAppClientID+"/.default")
		ans := postToken(t, s, DefaultConsentedTenantID, f)
		c := verifyWithJWKS(t, s, ans.Body["access_token"].(string))
		delete(c, "uti")
		want := jwt.MapClaims{
			"aud": "api://" + DefaultAppClientID, "iss": s.URL() + "/" + DefaultConsentedTenantID + "/v2.0",
			"azp": DefaultAppClientID, "azpacr": "2", "ver": "2.0", "tid": DefaultConsentedTenantID, "oid": sp, "sub": sp,
			"idtyp": "app", "roles": []any{"Device.Read.All"},
			"iat": float64(testNow.Unix()), "nbf": float64(testNow.Unix()), "exp": float64(testNow.Add(75 * time.Minute).Unix()),
		}
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
	})
	t.Run("service principal differs per tenant", func(t *testing.T) {
		home := servicePrincipalObjectID(DefaultHomeTenantID, DefaultAppClientID)
		if home == sp || servicePrincipalObjectID(DefaultHomeTenantID, DefaultAppClientID) != home {
			t.Errorf("service principal IDs: home %s, consented %s", home, sp)
		}
	})
}

func TestRolesOmittedWithoutConsentedRoles(t *testing.T) {
	sc := DefaultScenario()
	sc.Consents[1].Roles = nil
	s := newServer(t, sc, &Options{NoListener: true, TokenLifetime: 90 * time.Minute})
	ans := postToken(t, s, DefaultConsentedTenantID, assertionForm(DefaultAppClientID, miAssertion(t, s, systemIdentity(s))))
	if ans.Status != 200 {
		t.Fatalf("status %d: %v", ans.Status, ans.Body["error_description"])
	}
	c := claimsOf(t, ans.Body["access_token"].(string))
	if _, ok := c["roles"]; ok {
		t.Errorf("roles = %v, want no claim", c["roles"])
	}
	if got := c["exp"].(float64) - c["iat"].(float64); got != 90*60 {
		t.Errorf("lifetime %v s, want 5400", got)
	}
	if len(c["uti"].(string)) < 16 {
		t.Errorf("uti = %v", c["uti"])
	}
}

func TestKeyRotation(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true})
	old := miAssertion(t, s, systemIdentity(s))
	oldKid := headerOf(t, old).Kid
	if ans := postToken(t, s, DefaultConsentedTenantID, assertionForm(DefaultAppClientID, old)); ans.Status != 200 {
		t.Fatalf("before rotation: status %d", ans.Status)
	}
	s.RotateKeys()
	_, doc, _ := get(t, s.Client(), s.KeysURL(), nil)
	var kids []string
	for _, k := range doc["keys"].([]any) {
		kids = append(kids, k.(map[string]any)["kid"].(string))
	}
	if slices.Contains(kids, oldKid) || len(kids) != 1 {
		t.Errorf("JWKS kids %v after rotation; old kid must be gone", kids)
	}
	if ans := postToken(t, s, DefaultConsentedTenantID, assertionForm(DefaultAppClientID, old)); ans.code() != CodeInvalidSignature {
		t.Errorf("old assertion after rotation: status %d code %d, want %d", ans.Status, ans.code(), CodeInvalidSignature)
	}
	fresh := miAssertion(t, s, systemIdentity(s))
	if headerOf(t, fresh).Kid == oldKid {
		t.Error("new tokens still use the old kid")
	}
	if ans := postToken(t, s, DefaultConsentedTenantID, assertionForm(DefaultAppClientID, fresh)); ans.Status != 200 {
		t.Errorf("new assertion: status %d", ans.Status)
	}
}

func TestClockOffset(t *testing.T) {
	clk := &fixedClock{t: testNow}
	s := newServer(t, nil, &Options{NoListener: true, Clock: clk.now})
	a := miAssertion(t, s, systemIdentity(s)) // valid 24 h
	s.SetClockOffset(25 * time.Hour)
	ans := postToken(t, s, DefaultConsentedTenantID, assertionForm(DefaultAppClientID, a))
	if ans.code() != CodeAssertionTime {
		t.Fatalf("code %d, want %d", ans.code(), CodeAssertionTime)
	}
	fresh := miAssertion(t, s, systemIdentity(s))
	if got := int64(claimsOf(t, fresh)["iat"].(float64)); got != testNow.Add(25*time.Hour).Unix() {
		t.Errorf("iat %d, want clock+offset %d", got, testNow.Add(25*time.Hour).Unix())
	}
	s.SetClockOffset(0)
	if ans := postToken(t, s, DefaultConsentedTenantID, assertionForm(DefaultAppClientID, a)); ans.Status != 200 {
		t.Errorf("offset reset: status %d", ans.Status)
	}
}

func TestIssueExternalTokenUnknownIssuer(t *testing.T) {
	s := sharedServer(t)
	if _, err := s.IssueExternalToken("nope", "sub", TokenExchangeAudience, 0); err == nil {
		t.Error("IssueExternalToken accepted an unknown issuer")
	}
	tok, err := s.IssueExternalToken(DefaultWorkloadIssuer, DefaultWorkloadSubject, TokenExchangeAudience, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, tok)
	if c["iss"] != s.URL()+"/issuers/workload" || c["exp"].(float64)-c["iat"].(float64) != 3600 {
		t.Errorf("claims iss %v lifetime %v", c["iss"], c["exp"].(float64)-c["iat"].(float64))
	}
}

func TestCorrelationIDEchoed(t *testing.T) {
	s := sharedServer(t)
	f := assertionForm(DefaultAppClientID, "x")
	f.Set("client-request-id", "3f0eca69-dc16-46c0-9667-af1aed1d1242")
	a := postToken(t, s, DefaultUnconsentedTenantID, f)
	if a.Body["correlation_id"] != "3f0eca69-dc16-46c0-9667-af1aed1d1242" {
		t.Errorf("correlation_id = %v, want the client-request-id", a.Body["correlation_id"])
	}
	if a.Body["trace_id"] == a.Body["correlation_id"] {
		t.Error("trace_id equals correlation_id")
	}
}

func TestSigningKeyBits(t *testing.T) {
	for _, bits := range []int{0, 1024, 2048} {
		want := bits
		if want == 0 {
			want = 2048
		}
		s := newServer(t, nil, &Options{NoListener: true, SigningKeyBits: bits})
		_, doc, _ := get(t, s.Client(), s.KeysURL(), nil)
		key := jwkPublicKey(t, doc["keys"].([]any)[0].(map[string]any))
		if got := key.N.BitLen(); got != want {
			t.Errorf("SigningKeyBits %d: JWKS key has %d bits, want %d", bits, got, want)
		}
		a := miAssertion(t, s, systemIdentity(s))
		ans := postToken(t, s, DefaultConsentedTenantID, assertionForm(DefaultAppClientID, a))
		if ans.Status != 200 {
			t.Fatalf("SigningKeyBits %d: token status %d", bits, ans.Status)
		}
		verifyWithJWKS(t, s, ans.Body["access_token"].(string))
	}
	for _, bits := range []int{512, 3072, -1} {
		if _, err := New(nil, &Options{NoListener: true, SigningKeyBits: bits}); err == nil || !strings.Contains(err.Error(), "SigningKeyBits") {
			t.Errorf("SigningKeyBits %d: err %v, want an error naming the option", bits, err)
		}
	}
}

// TestSignMatchesGolangJWT: the token the server assembles itself (header
// encoded once per key) is byte for byte what golang-jwt's SignedString
// makes of the same claims (RSA PKCS #1 v1.5 signatures are deterministic).
func TestSignMatchesGolangJWT(t *testing.T) {
	s := newServer(t, nil, &Options{SigningKeyBits: 1024, NoListener: true})
	k := s.currentKey()
	claims := jwt.MapClaims{"aud": graphResource, "tid": DefaultConsentedTenantID, "exp": 1e9, "roles": []string{"Device.Read.All"}, "uti": "x<>&"}
	got, err := k.sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	ref := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	ref.Header["kid"] = k.kid
	want, err := ref.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Errorf("sign differs from golang-jwt from byte %d (lengths %d and %d)", i, len(got), len(want))
	}
}

// TestVerifiedAssertionCache: an assertion verified once is accepted again
// without a second verification, but not after its key is rotated away, and
// a copy with a different signature is verified on its own.
func TestVerifiedAssertionCache(t *testing.T) {
	s := newServer(t, nil, &Options{SigningKeyBits: 1024, NoListener: true})
	a := miAssertion(t, s, systemIdentity(s))
	now := s.now()
	for i := range 2 {
		if _, e := s.exchange(DefaultConsentedTenantID, assertionForm(DefaultAppClientID, a), now); e != nil {
			t.Fatalf("exchange %d: AADSTS%d", i, e.code)
		}
	}
	if n := len(s.verified.m); n != 1 {
		t.Errorf("%d verified assertions remembered, want 1", n)
	}
	forged := a[:lastDot(a)+1] + strings.Repeat("A", len(a)-lastDot(a)-1)
	if _, e := s.exchange(DefaultConsentedTenantID, assertionForm(DefaultAppClientID, forged), now); e == nil || e.code != CodeInvalidSignature {
		t.Errorf("assertion with a forged signature: %v, want AADSTS%d", e, CodeInvalidSignature)
	}
	s.RotateKeys()
	if _, e := s.exchange(DefaultConsentedTenantID, assertionForm(DefaultAppClientID, a), now); e == nil || e.code != CodeInvalidSignature {
		t.Errorf("assertion of a rotated key: %v, want AADSTS%d", e, CodeInvalidSignature)
	}
}
