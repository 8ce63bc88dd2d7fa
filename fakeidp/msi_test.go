package fakeidp

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAppService(t *testing.T) {
	s := sharedServer(t)
	hdr := s.IdentityHeader()
	resource := url.QueryEscape(TokenExchangeAudience)
	tests := []struct {
		name       string
		query      string
		header     map[string]string
		status     int
		wantClient string // client_id of the identity that answered
		legacy     bool
	}{
		{name: "no selector gets the system identity", query: "api-version=2019-08-01&resource=" + resource, header: map[string]string{"X-IDENTITY-HEADER": hdr}, status: 200, wantClient: DefaultSystemIdentityClientID},
		{name: "client_id", query: "api-version=2019-08-01&resource=" + resource + "&client_id=" + DefaultUserIdentityClientID, header: map[string]string{"X-IDENTITY-HEADER": hdr}, status: 200, wantClient: DefaultUserIdentityClientID},
		{name: "principal_id", query: "api-version=2019-08-01&resource=" + resource + "&principal_id=" + DefaultUserIdentityObjectID, header: map[string]string{"X-IDENTITY-HEADER": hdr}, status: 200, wantClient: DefaultUserIdentityClientID},
		{name: "object_id", query: "api-version=2019-08-01&resource=" + resource + "&object_id=" + DefaultUserIdentityObjectID, header: map[string]string{"X-IDENTITY-HEADER": hdr}, status: 200, wantClient: DefaultUserIdentityClientID},
		{name: "mi_res_id", query: "api-version=2019-08-01&resource=" + resource + "&mi_res_id=" + url.QueryEscape(DefaultUserIdentityResourceID), header: map[string]string{"X-IDENTITY-HEADER": hdr}, status: 200, wantClient: DefaultUserIdentityClientID},
		{name: "2017-09-01 with secret", query: "api-version=2017-09-01&resource=" + resource, header: map[string]string{"secret": hdr}, status: 200, wantClient: DefaultSystemIdentityClientID, legacy: true},
		{name: "2017-09-01 clientid", query: "api-version=2017-09-01&resource=" + resource + "&clientid=" + DefaultUserIdentityClientID, header: map[string]string{"secret": hdr}, status: 200, wantClient: DefaultUserIdentityClientID, legacy: true},
		{name: "missing header", query: "api-version=2019-08-01&resource=" + resource, status: 400},
		{name: "wrong header", query: "api-version=2019-08-01&resource=" + resource, header: map[string]string{"X-IDENTITY-HEADER": "wrong"}, status: 401},
		{name: "2017 header on 2019", query: "api-version=2019-08-01&resource=" + resource, header: map[string]string{"secret": hdr}, status: 400},
		{name: "2019 header on 2017", query: "api-version=2017-09-01&resource=" + resource, header: map[string]string{"X-IDENTITY-HEADER": hdr}, status: 400},
		{name: "no api-version", query: "resource=" + resource, header: map[string]string{"X-IDENTITY-HEADER": hdr}, status: 400},
		{name: "unknown api-version", query: "api-version=2018-02-01&resource=" + resource, header: map[string]string{"X-IDENTITY-HEADER": hdr}, status: 400},
		{name: "no resource", query: "api-version=2019-08-01", header: map[string]string{"X-IDENTITY-HEADER": hdr}, status: 400},
		{name: "unknown identity", query: "api-version=2019-08-01&resource=" + resource + "&client_id=00000000-0000-0000-0000-000000000000", header: map[string]string{"X-IDENTITY-HEADER": hdr}, status: 400},
		{name: "two selectors", query: "api-version=2019-08-01&resource=" + resource + "&client_id=" + DefaultUserIdentityClientID + "&object_id=" + DefaultUserIdentityObjectID, header: map[string]string{"X-IDENTITY-HEADER": hdr}, status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := get(t, s.Client(), s.AppServiceEndpoint()+"?"+tc.query, tc.header)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, body["message"])
			}
			if status != 200 {
				if body["statusCode"] != float64(tc.status) || body["message"] == "" {
					t.Errorf("error body %s lacks statusCode/message", redact(body))
				}
				return
			}
			tok := body["access_token"].(string)
			c := claimsOf(t, tok)
			if c["appid"] != tc.wantClient {
				t.Errorf("token for %v, want %s", c["appid"], tc.wantClient)
			}
			exp := time.Unix(int64(c["exp"].(float64)), 0).UTC()
			if tc.legacy {
				want := map[string]any{"access_token": tok, "expires_on": exp.Format("01/02/2006 15:04:05 +00:00"), "resource": TokenExchangeAudience, "token_type": "Bearer", "client_id": tc.wantClient}
				if diff := cmp.Diff(want, body); diff != "" {
					t.Errorf("body (-want +got):\n%s", redact(diff))
				}
				return
			}
			want := map[string]any{"access_token": tok, "expires_on": strconv.FormatInt(exp.Unix(), 10), "resource": TokenExchangeAudience, "token_type": "Bearer", "client_id": tc.wantClient}
			if diff := cmp.Diff(want, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", redact(diff))
			}
		})
	}
}

func TestAppServiceLegacyDateForm(t *testing.T) {
	// The form App Service on Linux sends, on a 24-hour clock: the Azure
	// CLI's parser (msrestazure) fails on "05:14:33 PM". An afternoon time
	// tells the two clocks apart; the clock is in another zone to show that
	// the answer is in UTC.
	for _, tc := range []struct {
		name string
		now  time.Time
		want string
	}{
		{"afternoon", time.Date(2021, 5, 21, 17, 14, 33, 0, time.UTC), "05/22/2021 17:14:33 +00:00"},
		{"morning", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), "11/28/2026 10:00:00 +00:00"},
		{"other zone", time.Date(2021, 5, 21, 19, 14, 33, 0, time.FixedZone("CEST", 2*3600)), "05/22/2021 17:14:33 +00:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, nil, &Options{NoListener: true, Clock: func() time.Time { return tc.now }})
			_, body, _ := get(t, s.Client(), s.AppServiceEndpoint()+"?api-version=2017-09-01&resource=https%3A%2F%2Fvault.azure.net", map[string]string{"secret": s.IdentityHeader()})
			if got := body["expires_on"]; got != tc.want {
				t.Errorf("expires_on = %q, want %q", got, tc.want)
			}
			if got := body["client_id"]; got != DefaultSystemIdentityClientID {
				t.Errorf("client_id = %v, want the system identity's %s", got, DefaultSystemIdentityClientID)
			}
		})
	}
}

func TestManagedIdentityTokenClaims(t *testing.T) {
	s := sharedServer(t)
	_, body, _ := get(t, s.Client(), s.AppServiceEndpoint()+"?api-version=2019-08-01&resource=api%3A%2F%2FAzureADTokenExchange&client_id="+DefaultUserIdentityClientID,
		map[string]string{"X-IDENTITY-HEADER": s.IdentityHeader()})
	c := claimsOf(t, body["access_token"].(string))
	delete(c, "uti")
	want := map[string]any{
		"iss": s.URL() + "/" + DefaultHomeTenantID + "/v2.0", "sub": DefaultUserIdentityObjectID, "oid": DefaultUserIdentityObjectID,
		"aud": TokenExchangeAudience, "tid": DefaultHomeTenantID, "appid": DefaultUserIdentityClientID, "azp": DefaultUserIdentityClientID,
		"idtyp": "app", "ver": "2.0", "xms_mirid": DefaultUserIdentityResourceID,
		"iat": float64(testNow.Unix()), "nbf": float64(testNow.Add(-5 * time.Minute).Unix()), "exp": float64(testNow.Add(24 * time.Hour).Unix()),
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if _, _, err := s.IssueManagedIdentityToken(ManagedIdentity{ObjectID: "x"}, TokenExchangeAudience); err == nil {
		t.Error("IssueManagedIdentityToken accepted an identity without home tenant")
	}
}

func TestIMDSTrailingSlash(t *testing.T) {
	// msal-node appends a slash to the IMDS path when AZURE_POD_IDENTITY_AUTHORITY_HOST is set.
	s := sharedServer(t)
	u := s.IMDSEndpoint() + imdsPath + "/?api-version=2018-02-01&resource=" + url.QueryEscape(TokenExchangeAudience)
	status, _, _ := get(t, s.Client(), u, map[string]string{"Metadata": "true"})
	if status != 200 {
		t.Errorf("IMDS path with a trailing slash: status %d, want 200", status)
	}
}

func TestIMDS(t *testing.T) {
	s := sharedServer(t)
	base := s.IMDSEndpoint() + imdsPath + "?"
	md := map[string]string{"Metadata": "true"}
	res := "resource=" + url.QueryEscape(TokenExchangeAudience)
	tests := []struct {
		name       string
		query      string
		header     map[string]string
		status     int
		wantBody   map[string]any // error bodies, exact
		wantClient string
	}{
		{name: "system identity", query: "api-version=2018-02-01&" + res, header: md, status: 200, wantClient: DefaultSystemIdentityClientID},
		{name: "client_id", query: "api-version=2018-02-01&" + res + "&client_id=" + DefaultUserIdentityClientID, header: md, status: 200, wantClient: DefaultUserIdentityClientID},
		{name: "object_id", query: "api-version=2018-02-01&" + res + "&object_id=" + DefaultUserIdentityObjectID, header: md, status: 200, wantClient: DefaultUserIdentityClientID},
		{name: "msi_res_id", query: "api-version=2018-02-01&" + res + "&msi_res_id=" + url.QueryEscape(DefaultUserIdentityResourceID), header: md, status: 200, wantClient: DefaultUserIdentityClientID},
		{name: "no metadata header", query: "api-version=2018-02-01&" + res, status: 400,
			wantBody: map[string]any{"error": "invalid_request", "error_description": "Required metadata header not specified"}},
		{name: "metadata false", query: "api-version=2018-02-01&" + res, header: map[string]string{"Metadata": "false"}, status: 400,
			wantBody: map[string]any{"error": "invalid_request", "error_description": "Required metadata header not specified"}},
		{name: "unknown identity", query: "api-version=2018-02-01&" + res + "&client_id=00000000-0000-0000-0000-000000000000", header: md, status: 400,
			wantBody: map[string]any{"error": "invalid_request", "error_description": "Identity not found"}},
		{name: "no resource", query: "api-version=2018-02-01", header: md, status: 400,
			wantBody: map[string]any{"error": "invalid_request", "error_description": "Required query variable 'resource' is missing"}},
		{name: "no api-version", query: res, header: md, status: 400,
			wantBody: map[string]any{"error": "invalid_request", "error_description": "Required query variable 'api-version' is missing"}},
		{name: "other api-version", query: "api-version=2019-08-01&" + res, header: md, status: 400,
			wantBody: map[string]any{"error": "invalid_request", "error_description": "Invalid api-version '2019-08-01'"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := get(t, s.Client(), base+tc.query, tc.header)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%s)", status, tc.status, redact(body))
			}
			if tc.wantBody != nil {
				if diff := cmp.Diff(tc.wantBody, body); diff != "" {
					t.Errorf("body (-want +got):\n%s", redact(diff))
				}
				return
			}
			tok := body["access_token"].(string)
			if claimsOf(t, tok)["appid"] != tc.wantClient {
				t.Errorf("token for %v, want %s", claimsOf(t, tok)["appid"], tc.wantClient)
			}
			exp := testNow.Add(24 * time.Hour).Unix()
			want := map[string]any{
				"access_token": tok, "refresh_token": "", "expires_in": "86400", "ext_expires_in": "86400",
				"expires_on": strconv.FormatInt(exp, 10), "not_before": strconv.FormatInt(testNow.Add(-5*time.Minute).Unix(), 10),
				"resource": TokenExchangeAudience, "token_type": "Bearer", "client_id": tc.wantClient,
			}
			if diff := cmp.Diff(want, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", redact(diff))
			}
		})
	}
}

func TestIMDSWarmUp(t *testing.T) {
	clk := &fixedClock{t: testNow}
	s := newServer(t, nil, &Options{NoListener: true, Clock: clk.now})
	u := s.IMDSEndpoint() + imdsPath + "?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com"
	md := map[string]string{"Metadata": "true"}
	s.WarmUpIMDS(70 * time.Second)
	if status, _, _ := get(t, s.Client(), u, md); status != http.StatusGone {
		t.Errorf("during warm-up: status %d, want 410", status)
	}
	clk.t = testNow.Add(69 * time.Second)
	if status, _, _ := get(t, s.Client(), u, md); status != http.StatusGone {
		t.Errorf("at 69 s: status %d, want 410", status)
	}
	clk.t = testNow.Add(70 * time.Second)
	if status, _, _ := get(t, s.Client(), u, md); status != 200 {
		t.Errorf("after warm-up: status %d, want 200", status)
	}
	s.WarmUpIMDS(time.Hour)
	s.ClearFaults()
	if status, _, _ := get(t, s.Client(), u, md); status != 200 {
		t.Errorf("after ClearFaults: status %d, want 200", status)
	}
}

// TestAssertionFromAppServiceEndpoint runs the whole flow over the loopback
// listeners: assertion from App Service, token from Entra, both over HTTP(S).
func TestAssertionFromAppServiceEndpoint(t *testing.T) {
	s := newServer(t, nil, nil)
	for _, sel := range []string{"", "&client_id=" + DefaultUserIdentityClientID} {
		_, body, _ := get(t, s.Client(), s.AppServiceEndpoint()+"?api-version=2019-08-01&resource=api%3A%2F%2FAzureADTokenExchange"+sel,
			map[string]string{"X-IDENTITY-HEADER": s.IdentityHeader()})
		a, _ := body["access_token"].(string)
		resp, err := s.Client().PostForm(s.URL()+"/"+DefaultConsentedTenantID+"/oauth2/v2.0/token", assertionForm(DefaultAppClientID, a))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("selector %q: token status %d", sel, resp.StatusCode)
		}
	}
}
