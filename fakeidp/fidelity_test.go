package fakeidp

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The fidelity points checked against recorded answers of the real services
// (Azure SDK for Python's identity recordings, Microsoft Learn's samples and
// error reference).

func TestManagedIdentityEndpointsRefuseUnknownResources(t *testing.T) {
	s := sharedServer(t)
	known := []string{
		"https://graph.microsoft.com", "https://graph.microsoft.com/", graphAppID,
		"https://management.core.windows.net/", "https://management.core.windows.net", "https://management.azure.com/", "https://management.azure.com",
		"https://vault.azure.net", "https://storage.azure.com/", TokenExchangeAudience,
		"api://" + DefaultAppClientID, DefaultAppClientID,
	}
	imds := func(res string) string {
		return s.IMDSEndpoint() + imdsPath + "?api-version=2018-02-01&resource=" + url.QueryEscape(res)
	}
	app := func(version, res string) string {
		return s.AppServiceEndpoint() + "?api-version=" + version + "&resource=" + url.QueryEscape(res)
	}
	for _, res := range known {
		if st, body, _ := get(t, s.Client(), imds(res), map[string]string{"Metadata": "true"}); st != 200 {
			t.Errorf("IMDS %s: status %d (%v)", res, st, redact(body))
		}
		if st, body, _ := get(t, s.Client(), app("2019-08-01", res), map[string]string{"X-IDENTITY-HEADER": s.IdentityHeader()}); st != 200 {
			t.Errorf("App Service %s: status %d (%v)", res, st, redact(body))
		}
	}
	const typo = "https://managements.azure.com"
	const want = "AADSTS500011: The resource principal named " + typo + " was not found in the tenant named Contoso (home)."

	// IMDS relays Entra's error body.
	st, body, _ := get(t, s.Client(), imds(typo), map[string]string{"Metadata": "true"})
	desc, _ := body["error_description"].(string)
	if st != 400 || body["error"] != "invalid_resource" || !strings.HasPrefix(desc, want) || !strings.Contains(desc, "\r\nTrace ID: ") {
		t.Errorf("IMDS, unknown resource: status %d body %v; want 400 invalid_resource %q...", st, body, want)
	}
	if diff := cmp.Diff([]any{float64(500011)}, body["error_codes"]); diff != "" {
		t.Errorf("IMDS error_codes (-want +got):\n%s", diff)
	}
	// App Service relays it in its own shape, for both protocol versions.
	for _, tc := range []struct{ version, header string }{{"2019-08-01", "X-IDENTITY-HEADER"}, {"2017-09-01", "secret"}} {
		st, body, _ := get(t, s.Client(), app(tc.version, typo), map[string]string{tc.header: s.IdentityHeader()})
		msg, _ := body["message"].(string)
		if st != 400 || body["statusCode"] != float64(400) || !strings.HasPrefix(msg, want) || body["correlationId"] == "" {
			t.Errorf("App Service %s, unknown resource: status %d body %v", tc.version, st, body)
		}
	}
	// The request log names the code, as for the token endpoint.
	var found bool
	for _, r := range s.Requests() {
		if r.Path == imdsPath && strings.Contains(r.Form.Get("resource"), "managements") && r.Status == 400 {
			found = r.Code == "invalid_resource" && cmp.Equal(r.ErrorCodes, []int{500011})
		}
	}
	if !found {
		t.Error("the IMDS refusal is not recorded with invalid_resource and 500011")
	}
}

func TestManagedIdentityTokensForMicrosoftAPIsAreV1(t *testing.T) {
	s := sharedServer(t)
	for _, tc := range []struct{ resource, aud, ver string }{
		{"https://management.core.windows.net/", "https://management.core.windows.net/", "1.0"},
		{"https://management.azure.com", "https://management.azure.com", "1.0"},
		{"https://graph.microsoft.com/", "https://graph.microsoft.com", "1.0"},
		{TokenExchangeAudience, TokenExchangeAudience, "2.0"},
	} {
		_, body, _ := get(t, s.Client(), s.IMDSEndpoint()+imdsPath+"?api-version=2018-02-01&resource="+url.QueryEscape(tc.resource), map[string]string{"Metadata": "true"})
		c := verifyWithJWKS(t, s, body["access_token"].(string))
		iss := "https://sts.windows.net/" + DefaultHomeTenantID + "/"
		if tc.ver == "2.0" {
			iss = s.IssuerURL(DefaultHomeTenantID)
		}
		if c["aud"] != tc.aud || c["iss"] != iss || c["ver"] != tc.ver || c["appid"] != DefaultSystemIdentityClientID || c["sub"] != DefaultSystemIdentityObjectID {
			t.Errorf("%s: aud %v iss %v ver %v appid %v sub %v; want aud %s iss %s ver %s", tc.resource, c["aud"], c["iss"], c["ver"], c["appid"], c["sub"], tc.aud, iss, tc.ver)
		}
		if _, azp := c["azp"]; (tc.ver == "1.0") == azp || (tc.ver == "1.0") != (c["appidacr"] == "2") {
			t.Errorf("%s: azp %v appidacr %v: v1 tokens carry appidacr, v2 tokens azp", tc.resource, c["azp"], c["appidacr"])
		}
	}
}

func TestScenarioResources(t *testing.T) {
	sc := DefaultScenario()
	sc.Resources = []Resource{
		{Name: "Contoso API", IdentifierURIs: []string{"https://api.contoso.com"}},
		{Name: "Contoso v2 API", AppID: "12121212-0000-0000-0000-000000000000", IdentifierURIs: []string{"api://contoso-v2"}, AccessTokenVersion: 2},
	}
	s := newServer(t, sc, &Options{NoListener: true, SigningKeyBits: 1024})
	a, _, err := s.IssueManagedIdentityToken(s.Scenario().ManagedIdentities[0], TokenExchangeAudience)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ scope, aud, ver string }{
		{"https://api.contoso.com/.default", "https://api.contoso.com", "1.0"},
		{"12121212-0000-0000-0000-000000000000/.default", "api://contoso-v2", "2.0"},
	} {
		f := assertionForm(DefaultAppClientID, a)
		f.Set("scope", tc.scope)
		ans := postToken(t, s, DefaultConsentedTenantID, f)
		if ans.Status != 200 {
			t.Fatalf("%s: status %d %v", tc.scope, ans.Status, ans.Body["error_description"])
		}
		c := claimsOf(t, ans.Body["access_token"].(string))
		if c["aud"] != tc.aud || c["ver"] != tc.ver {
			t.Errorf("%s: aud %v ver %v, want %s %s", tc.scope, c["aud"], c["ver"], tc.aud, tc.ver)
		}
	}
	bad := DefaultScenario()
	bad.Resources = []Resource{{Name: "nameless"}, {Name: "v3", IdentifierURIs: []string{"api://x"}, AccessTokenVersion: 3}}
	bad.Apps[0].IdentifierURIs = []string{""}
	bad.Apps[0].RedirectURIs = []string{"/relative"}
	err = bad.Validate()
	for _, want := range []string{"resources[0]: neither appId nor identifierUris", "resources[1].accessTokenVersion: 3", `apps[0].identifierUris[0]: ""`, `apps[0].redirectUris[0]: "/relative"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to say %q", err, want)
		}
	}
}

func TestScenarioSubscriptionsValidate(t *testing.T) {
	sc := DefaultScenario()
	sc.Tenants[1].Subscriptions = append(sc.Tenants[1].Subscriptions,
		Subscription{ID: DefaultHomeSubscriptionID, DisplayName: "stolen"},
		Subscription{ID: "prod", DisplayName: "not a GUID"},
		Subscription{ID: "77777777-7777-7777-7777-777777777777", ResourceGroups: []ResourceGroup{{Name: "rg"}, {Name: "RG"}, {Name: "a/b"}}},
	)
	err := sc.Validate()
	for _, want := range []string{
		`tenants[1].subscriptions[1].subscriptionId: duplicate "44444444-4444-4444-4444-444444444444"`,
		`tenants[1].subscriptions[2].subscriptionId: "prod" is not a GUID`,
		`tenants[1].subscriptions[3].resourceGroups[1].name: duplicate "RG"`,
		`tenants[1].subscriptions[3].resourceGroups[2].name: "a/b" is not a resource group name`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to say %s", err, want)
		}
	}
	if err := DefaultScenario().Validate(); err != nil {
		t.Errorf("default scenario: %v", err)
	}
	for _, tn := range DefaultScenario().Tenants {
		if len(tn.Subscriptions) == 0 {
			t.Errorf("tenant %s has no subscription in the default scenario", tn.DisplayName)
		}
	}
}

func TestRequestIDs(t *testing.T) {
	s := sharedServer(t)
	const crid = "0b2f7a3c-1d4e-4f5a-8b6c-7d8e9f0a1b2c"
	post := func(hdr map[string]string) (http.Header, map[string]any) {
		t.Helper()
		f := assertionForm(DefaultAppClientID, miAssertion(t, s, systemIdentity(s)))
		hdr["Content-Type"] = "application/x-www-form-urlencoded"
		rec := serve(s.Handler(), "POST", "/"+DefaultUnconsentedTenantID+"/oauth2/v2.0/token", f.Encode(), hdr)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		return rec.Header(), body
	}
	h, body := post(map[string]string{"client-request-id": crid, "return-client-request-id": "true"})
	if h.Get("x-ms-request-id") == "" || h.Get("x-ms-request-id") != body["trace_id"] {
		t.Errorf("x-ms-request-id %q, trace_id %v: want the same GUID", h.Get("x-ms-request-id"), body["trace_id"])
	}
	if h.Get("client-request-id") != crid || body["correlation_id"] != crid {
		t.Errorf("client-request-id echoed %q, correlation_id %v; want %s", h.Get("client-request-id"), body["correlation_id"], crid)
	}
	if !strings.Contains(body["error_description"].(string), "\r\nCorrelation ID: "+crid+"\r\n") {
		t.Errorf("error_description does not name the correlation ID on its own line")
	}
	h, body = post(map[string]string{"client-request-id": crid})
	if h.Get("client-request-id") != "" || body["correlation_id"] != crid {
		t.Errorf("without return-client-request-id: echoed %q (want none), correlation_id %v (want %s)", h.Get("client-request-id"), body["correlation_id"], crid)
	}
	h, body = post(map[string]string{"client-request-id": "not-a-guid\r\nX-Injected: 1", "return-client-request-id": "true"})
	if h.Get("client-request-id") != "" || h.Get("X-Injected") != "" || body["correlation_id"] == "not-a-guid" || !isGUID(body["correlation_id"].(string)) {
		t.Errorf("a non-GUID client-request-id: echoed %q, correlation_id %v; want no echo and a fresh GUID", h.Get("client-request-id"), body["correlation_id"])
	}
	// Success answers and discovery carry a request ID too, a new one each.
	rec := serve(s.Handler(), "GET", "/"+DefaultHomeTenantID+"/v2.0/.well-known/openid-configuration", "", nil)
	rec2 := serve(s.Handler(), "GET", "/"+DefaultHomeTenantID+"/v2.0/.well-known/openid-configuration", "", nil)
	if id := rec.Header().Get("x-ms-request-id"); !isGUID(id) || id == rec2.Header().Get("x-ms-request-id") {
		t.Errorf("discovery x-ms-request-id %q, then %q: want a fresh GUID each", id, rec2.Header().Get("x-ms-request-id"))
	}
}

func TestDiscoveryIsCacheable(t *testing.T) {
	s := sharedServer(t)
	for _, p := range []string{
		"/" + DefaultHomeTenantID + "/v2.0/.well-known/openid-configuration",
		"/" + DefaultHomeTenantID + "/discovery/v2.0/keys",
		"/common/discovery/instance?api-version=1.1&authorization_endpoint=" + url.QueryEscape(s.URL()+"/common/oauth2/v2.0/authorize"),
		"/issuers/" + DefaultWorkloadIssuer + "/.well-known/openid-configuration",
		"/issuers/" + DefaultWorkloadIssuer + "/keys",
	} {
		rec := serve(s.Handler(), "GET", p, "", nil)
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "max-age=86400, private" {
			t.Errorf("%s: status %d Cache-Control %q, want 200 and Entra's max-age=86400, private", p, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
	// Errors and tokens are never cached.
	for _, rec := range []*http.Response{
		serve(s.Handler(), "GET", "/99999999-9999-9999-9999-999999999999/v2.0/.well-known/openid-configuration", "", nil).Result(),
		serve(s.Handler(), "POST", "/"+DefaultHomeTenantID+"/oauth2/v2.0/token", "", nil).Result(),
	} {
		if cc := rec.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("%s: Cache-Control %q, want no-store", rec.Request.URL.Path, cc)
		}
	}
}

func TestJWKSKeysCarryX5tEqualToKid(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true, SigningKeyBits: 1024})
	check := func() string {
		t.Helper()
		_, doc, _ := get(t, s.Client(), s.KeysURL(), nil)
		keys := doc["keys"].([]any)
		if len(keys) != 1 {
			t.Fatalf("%d keys", len(keys))
		}
		k := keys[0].(map[string]any)
		der, err := base64.StdEncoding.DecodeString(k["x5c"].([]any)[0].(string))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum(der)
		if k["kid"] != k["x5t"] || k["x5t"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
			t.Errorf("kid %v, x5t %v: want both the base64url SHA-1 thumbprint of x5c[0]", k["kid"], k["x5t"])
		}
		return k["kid"].(string)
	}
	before := check()
	tok, _, err := s.IssueManagedIdentityToken(s.Scenario().ManagedIdentities[0], TokenExchangeAudience)
	if err != nil {
		t.Fatal(err)
	}
	if h := headerOf(t, tok); h.Kid != before {
		t.Errorf("token kid %s, JWKS kid %s", h.Kid, before)
	}
	s.RotateKeys()
	if after := check(); after == before {
		t.Error("the kid did not change with the key")
	}
}

// TestIMDSNotBefore: IMDS dates not_before five minutes before issue, and
// the token's nbf with it; expires_in still counts from now.
func TestIMDSNotBefore(t *testing.T) {
	s := sharedServer(t)
	_, body, _ := get(t, s.Client(), s.IMDSEndpoint()+imdsPath+"?api-version=2018-02-01&resource="+url.QueryEscape(TokenExchangeAudience), map[string]string{"Metadata": "true"})
	c := claimsOf(t, body["access_token"].(string))
	want := testNow.Add(-5 * time.Minute).Unix()
	if body["not_before"] != strconv.FormatInt(want, 10) || c["nbf"] != float64(want) || body["expires_in"] != "86400" {
		t.Errorf("not_before %v, nbf %v, expires_in %v; want %d, %d, 86400", body["not_before"], c["nbf"], body["expires_in"], want, want)
	}
}
