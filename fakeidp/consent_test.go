package fakeidp

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// consentClient is a plain browser stand-in: it keeps cookies and does not
// follow redirects, so the test sees where Entra would send the browser.
func consentClient(t *testing.T, s *Server) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: s.Transport(), Jar: jar, Timeout: testwait.Bound,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func fetch(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formOf reads the consent page's form fields, as a browser would submit them.
func formOf(t *testing.T, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		v.Add(m[1], unescapeHTML(m[2]))
	}
	if v.Get("csrf_token") == "" {
		t.Fatalf("no form token on the page:\n%s", page)
	}
	return v
}

func unescapeHTML(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&#43;", "+").Replace(s)
}

func postForm(t *testing.T, s *Server, c *http.Client, path string, v url.Values, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+path, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, val := range hdr {
		req.Header.Set(k, val)
	}
	return fetch(t, c, req)
}

func TestAdminConsentPageGrantsConsent(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true, SigningKeyBits: 1024})
	a, _, err := s.IssueManagedIdentityToken(s.Scenario().ManagedIdentities[0], TokenExchangeAudience)
	if err != nil {
		t.Fatal(err)
	}
	if ans := postToken(t, s, DefaultUnconsentedTenantID, assertionForm(DefaultAppClientID, a)); ans.code() != CodeAppNotFound {
		t.Fatalf("before consent: %d %v, want AADSTS700016", ans.Status, ans.Body["error_codes"])
	}

	c := consentClient(t, s)
	path := "/" + DefaultUnconsentedTenantID + "/adminconsent"
	q := url.Values{"client_id": {DefaultAppClientID}, "redirect_uri": {"http://localhost:7071/consented"}, "state": {"<s&1>"}}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+path+"?"+q.Encode(), nil)
	resp, page := fetch(t, c, req)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page: status %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"tenantbridge devices", DefaultAppClientID, "Northwind (not consented)", "Device.Read.All", DeviceReadAllRoleID, "Contoso (home)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
	if strings.Contains(page, "<s&1>") {
		t.Error("the page repeats state unescaped")
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Error("the page may be framed")
	}
	form := formOf(t, page)

	// Forged or replayed posts change nothing.
	forged := func(name string, v url.Values, hdr map[string]string, client *http.Client) {
		t.Helper()
		resp, _ := postForm(t, s, client, path, v, hdr)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, resp.StatusCode)
		}
	}
	accept := func(v url.Values) url.Values {
		v = maps(v)
		v.Set("action", "accept")
		return v
	}
	noCookie := &http.Client{Transport: s.Transport(), CheckRedirect: c.CheckRedirect, Timeout: testwait.Bound}
	forged("no cookie (another site's post)", accept(form), nil, noCookie)
	other := accept(form)
	other.Set("redirect_uri", "http://localhost:9/elsewhere")
	forged("changed redirect_uri", other, nil, c)
	other = accept(form)
	other.Set("csrf_token", "x"+form.Get("csrf_token"))
	forged("bad token", other, nil, c)
	forged("cross-origin", accept(form), map[string]string{"Origin": "https://evil.test"}, c)
	if s.consent(DefaultUnconsentedTenantID, DefaultAppClientID) != nil {
		t.Fatal("a forged post granted consent")
	}

	resp, _ = postForm(t, s, c, path, accept(form), map[string]string{"Origin": s.URL()})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("accept: status %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != "http://localhost:7071/consented" {
		t.Errorf("redirected to %s", got)
	}
	if diff := cmp.Diff(url.Values{"admin_consent": {"True"}, "tenant": {DefaultUnconsentedTenantID}, "state": {"<s&1>"}}, loc.Query()); diff != "" {
		t.Errorf("redirect query (-want +got):\n%s", diff)
	}
	ans := postToken(t, s, DefaultUnconsentedTenantID, assertionForm(DefaultAppClientID, a))
	if ans.Status != 200 {
		t.Fatalf("after consent: %d %v", ans.Status, ans.Body["error_description"])
	}
	if roles := claimsOf(t, ans.Body["access_token"].(string))["roles"]; !cmp.Equal(roles, []any{"Device.Read.All"}) {
		t.Errorf("roles %v, want the required Device.Read.All", roles)
	}
	if !slices.ContainsFunc(s.Consents(), func(c Consent) bool {
		return c.Tenant == DefaultUnconsentedTenantID && c.ClientID == DefaultAppClientID
	}) {
		t.Errorf("Consents() = %v lacks the new consent", s.Consents())
	}
}

func TestAdminConsentCancelAndV2(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true, SigningKeyBits: 1024})
	c := consentClient(t, s)
	open := func(path string, q url.Values) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+path+"?"+q.Encode(), nil)
		return fetch(t, c, req)
	}

	// Cancel: back to the app with Entra's error, nothing granted.
	path := "/" + DefaultUnconsentedTenantID + "/adminconsent"
	_, page := open(path, url.Values{"client_id": {DefaultAppClientID}, "redirect_uri": {"https://127.0.0.1:8443/cb"}})
	form := formOf(t, page)
	form.Set("action", "cancel")
	resp, _ := postForm(t, s, c, path, form, nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "access_denied" || !strings.HasPrefix(loc.Query().Get("error_description"), "AADSTS65004") {
		t.Errorf("cancel: status %d, location %s", resp.StatusCode, loc)
	}
	if s.consent(DefaultUnconsentedTenantID, DefaultAppClientID) != nil {
		t.Error("cancel granted consent")
	}

	// v2, with a scope, and no redirect_uri: a page says it is done.
	path = "/" + DefaultUnconsentedTenantID + "/v2.0/adminconsent"
	resp, page = open(path, url.Values{"client_id": {DefaultAppClientID}, "scope": {"https://graph.microsoft.com/.default"}})
	if resp.StatusCode != 200 || !strings.Contains(page, "Device.Read.All") {
		t.Fatalf("v2 page: status %d", resp.StatusCode)
	}
	form = formOf(t, page)
	form.Set("action", "accept")
	resp, page = postForm(t, s, c, path, form, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "can now get tokens") {
		t.Errorf("v2 accept without redirect_uri: status %d\n%s", resp.StatusCode, page)
	}
	if got := s.consent(DefaultUnconsentedTenantID, DefaultAppClientID); got == nil || !cmp.Equal(got.Roles, []string{"Device.Read.All"}) {
		t.Errorf("v2 consent = %+v", got)
	}

	// Refusals are pages, never redirects.
	for _, tc := range []struct {
		name, path string
		q          url.Values
		status     int
		want       string
	}{
		{"unknown app", "/" + DefaultConsentedTenantID + "/adminconsent", url.Values{"client_id": {"99999999-9999-9999-9999-999999999999"}}, 400, "AADSTS700016"},
		{"no client_id", "/" + DefaultConsentedTenantID + "/adminconsent", url.Values{}, 400, "AADSTS900144"},
		{"unknown tenant", "/99999999-9999-9999-9999-999999999999/adminconsent", url.Values{"client_id": {DefaultAppClientID}}, 400, "AADSTS90002"},
		{"redirect elsewhere", "/" + DefaultConsentedTenantID + "/adminconsent", url.Values{"client_id": {DefaultAppClientID}, "redirect_uri": {"https://evil.test/cb"}}, 400, "AADSTS50011"},
		{"v2 without scope", path, url.Values{"client_id": {DefaultAppClientID}}, 400, "AADSTS900144"},
		{"v2 unknown permission", path, url.Values{"client_id": {DefaultAppClientID}, "scope": {"https://graph.microsoft.com/User.Read.All"}}, 400, "AADSTS70011"},
	} {
		resp, page := open(tc.path, tc.q)
		if resp.StatusCode != tc.status || resp.Header.Get("Location") != "" || !strings.Contains(page, tc.want) {
			t.Errorf("%s: status %d location %q; want %d and a page with %s", tc.name, resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.want)
		}
	}
}

func TestGrantConsent(t *testing.T) {
	sc := tokenScenario()
	s := newServer(t, sc, &Options{NoListener: true, SigningKeyBits: 1024})
	for name, err := range map[string]error{
		"unknown tenant": s.GrantConsent("99999999-9999-9999-9999-999999999999", DefaultAppClientID, nil),
		"unknown app":    s.GrantConsent(DefaultConsentedTenantID, "nope", nil),
		"single-tenant":  s.GrantConsent(DefaultConsentedTenantID, singleTenantAppID, nil),
		"unknown role":   s.GrantConsent(DefaultConsentedTenantID, DefaultAppClientID, []string{"User.Read.All"}),
	} {
		if err == nil {
			t.Errorf("%s: GrantConsent succeeded", name)
		}
	}
	before := len(s.Consents())
	if err := s.GrantConsent(DefaultConsentedTenantID, DefaultAppClientID, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.consent(DefaultConsentedTenantID, DefaultAppClientID); got == nil || len(got.Roles) != 0 || len(s.Consents()) != before {
		t.Errorf("a second grant should replace the first: %+v, %d consents (was %d)", got, len(s.Consents()), before)
	}
}

func maps(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
