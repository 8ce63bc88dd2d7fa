package fakeidp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The admin-consent endpoint: what an administrator of a customer tenant
// opens to install a multi-tenant app (learn.microsoft.com, "Grant
// tenant-wide admin consent to an application"; v2: "Admin consent on the
// Microsoft identity platform"):
//
//	GET  /{tenant}/adminconsent?client_id=...&redirect_uri=...&state=...
//	GET  /{tenant}/v2.0/adminconsent?client_id=...&scope=...&redirect_uri=...&state=...
//
// The fake shows a page of what the app asks for (its required app roles);
// a POST of its form (Accept or Cancel) grants the consent in the running
// server, as [Server.GrantConsent] does, then redirects to redirect_uri with
// admin_consent=True&tenant={tenant} (v2 adds scope), or with
// error=access_denied on Cancel, as Entra does. Without redirect_uri a page
// says what happened.
//
// The form is CSRF-safe: its token is an HMAC, under a key of this server,
// of a nonce that a SameSite=Strict cookie carries and of every parameter
// shown, so another site can neither post it nor change what it grants. A
// redirect_uri must be one of the app's RedirectURIs or a loopback URL, so
// the page cannot send a browser elsewhere.

// maxConsentForm bounds what the consent POST reads.
const maxConsentForm = 64 << 10

// consentCookie carries the nonce the form token is bound to.
const consentCookie = "fakeidp_consent"

// codeUserDeclined is Entra's code for a consent the user declined.
const codeUserDeclined = 65004

// codeRedirectMismatch is Entra's code for a redirect_uri the app does not
// have.
const codeRedirectMismatch = 50011

// consentRequest is the parameters of one admin-consent request, as read
// from the query (GET) or the form (POST).
type consentRequest struct {
	tenant      string // the path's tenant
	v2          bool
	clientID    string
	redirectURI string
	state       string
	scope       string // v2 only
}

func (c consentRequest) values() url.Values {
	v := url.Values{"client_id": {c.clientID}}
	if c.redirectURI != "" {
		v.Set("redirect_uri", c.redirectURI)
	}
	if c.state != "" {
		v.Set("state", c.state)
	}
	if c.v2 {
		v.Set("scope", c.scope)
	}
	return v
}

// adminConsent serves both admin-consent paths.
func (s *Server) adminConsent(w http.ResponseWriter, r *http.Request, tenant string, v2 bool) {
	info := infoFrom(r.Context())
	info.tenant = tenant
	var src url.Values
	switch r.Method {
	case http.MethodGet:
		src = r.URL.Query()
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxConsentForm)
		if err := r.ParseForm(); err != nil {
			s.consentPage(w, r, http.StatusBadRequest, consentPageData{Error: "The form could not be read."})
			return
		}
		src = r.PostForm
	default:
		w.Header().Set("Allow", "GET, POST")
		s.consentPage(w, r, http.StatusMethodNotAllowed, consentPageData{Error: "The admin-consent endpoint answers GET and POST."})
		return
	}
	c := consentRequest{tenant: tenant, v2: v2, clientID: src.Get("client_id"), redirectURI: src.Get("redirect_uri"),
		state: src.Get("state"), scope: src.Get("scope")}
	info.clientID = clip(c.clientID)
	app, roles, t, e := s.checkConsentRequest(c)
	if e != nil {
		info.entraError(e)
		s.consentPage(w, r, e.status, consentPageData{Error: fmt.Sprintf("AADSTS%d: %s", e.code, e.msg)})
		return
	}
	if r.Method == http.MethodGet {
		s.showConsent(w, r, c, app, roles, t)
		return
	}
	if !s.validConsentPost(r, c) {
		s.consentPage(w, r, http.StatusForbidden, consentPageData{Error: "The consent form is not valid here: open the admin-consent URL again and answer from its page."})
		return
	}
	if src.Get("action") != "accept" {
		s.consentAnswer(w, r, c, t, url.Values{
			"error":             {"access_denied"},
			"error_subcode":     {"cancel"},
			"error_description": {fmt.Sprintf("AADSTS%d: The user declined to consent to access the app.", codeUserDeclined)},
		}, "Consent was not granted.")
		return
	}
	if err := s.GrantConsent(t.ID, app.ClientID, roles); err != nil {
		s.consentPage(w, r, http.StatusInternalServerError, consentPageData{Error: err.Error()})
		return
	}
	v := url.Values{"admin_consent": {"True"}, "tenant": {t.ID}}
	if c.v2 {
		v.Set("scope", c.scope)
	}
	s.consentAnswer(w, r, c, t, v, fmt.Sprintf("%s can now get tokens in %s with %s.", app.DisplayName, t.DisplayName, strings.Join(roles, ", ")))
}

// checkConsentRequest validates the parameters as Entra does before it shows
// the page: tenant, app (multi-tenant unless at home), redirect_uri, scope.
func (s *Server) checkConsentRequest(c consentRequest) (*App, []string, *Tenant, *entraError) {
	t := s.tenants[c.tenant]
	if t == nil {
		e := newEntraError(codeInvalidTenant, "Tenant '%s' not found. The admin-consent URL must name the customer's tenant ID.", clip(c.tenant))
		return nil, nil, nil, e
	}
	if c.clientID == "" {
		return nil, nil, nil, missing("client_id")
	}
	app := s.apps[c.clientID]
	if app == nil || (!app.MultiTenant && c.tenant != app.HomeTenant) {
		return nil, nil, nil, notInTenant(c.clientID, t)
	}
	if c.redirectURI != "" && !redirectAllowed(app, c.redirectURI) {
		e := newEntraError(codeRedirectMismatch, "The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'.", clip(c.redirectURI), app.ClientID)
		return nil, nil, nil, e
	}
	roles := app.RequiredRoles
	if c.v2 {
		if c.scope == "" {
			return nil, nil, nil, missing("scope")
		}
		var err error
		if roles, err = scopeRoles(app, c.scope); err != nil {
			return nil, nil, nil, newEntraError(codeInvalidScope, "The provided value for the input parameter 'scope' is not valid. %s", err.Error())
		}
	}
	if len(roles) == 0 {
		return nil, nil, nil, newEntraError(codeInvalidScope, "The application '%s' asks for no application permission: there is nothing to consent to.", app.ClientID)
	}
	return app, roles, t, nil
}

// scopeRoles reads the roles a v2 admin-consent scope asks for: a
// "{resource}/.default" asks for the app's required roles, and
// "{resource}/{role}" for that role.
func scopeRoles(app *App, scope string) ([]string, error) {
	var roles []string
	for _, f := range strings.Fields(scope) {
		if oidcScopes[strings.ToLower(f)] {
			continue
		}
		i := strings.LastIndex(f, "/")
		if i < 0 {
			return nil, fmt.Errorf("The scope '%s' names no permission.", clip(f))
		}
		switch p := f[i+1:]; {
		case p == ".default":
			roles = append(roles, app.RequiredRoles...)
		case appHasRole(app, p):
			roles = append(roles, p)
		default:
			return nil, fmt.Errorf("The app does not define the permission '%s'.", clip(p))
		}
	}
	slices.Sort(roles)
	return slices.Compact(roles), nil
}

// redirectAllowed accepts the app's registered redirect URIs and loopback
// URLs (what local tools and the emulator's users redirect to); never
// another host, so the page is no open redirect.
func redirectAllowed(app *App, uri string) bool {
	if slices.Contains(app.RedirectURIs, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return false
	}
	switch h := u.Hostname(); h {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// consentToken binds the form to nonce and to the parameters it shows.
func (s *Server) consentToken(nonce string, c consentRequest) string {
	m := hmac.New(sha256.New, s.consentKey[:])
	m.Write([]byte(nonce + "\x00" + c.tenant + "\x00" + fmt.Sprint(c.v2) + "\x00" + c.values().Encode()))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validConsentPost reports whether the POST comes from this server's page:
// the cookie's nonce and the form's token match the parameters, and a
// browser's Origin, when it sends one, is the authority's.
func (s *Server) validConsentPost(r *http.Request, c consentRequest) bool {
	if o := r.Header.Get("Origin"); o != "" && o != s.url {
		return false
	}
	ck, err := r.Cookie(consentCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	want := s.consentToken(ck.Value, c)
	return hmac.Equal([]byte(want), []byte(r.PostForm.Get("csrf_token")))
}

// showConsent renders the question with a fresh nonce.
func (s *Server) showConsent(w http.ResponseWriter, r *http.Request, c consentRequest, app *App, roles []string, t *Tenant) {
	var b [18]byte
	_, _ = rand.Read(b[:])
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: consentCookie, Value: nonce, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	d := consentPageData{
		Ask:         true,
		App:         app.DisplayName,
		ClientID:    app.ClientID,
		Publisher:   s.tenants[app.HomeTenant].DisplayName,
		Tenant:      t.DisplayName,
		TenantID:    t.ID,
		RedirectURI: c.redirectURI,
		Action:      r.URL.Path,
		Hidden:      c.values(),
		Token:       s.consentToken(nonce, c),
	}
	if existing := s.consent(t.ID, app.ClientID); existing != nil {
		d.Granted = existing.Roles
	}
	for _, role := range roles {
		p := consentPermission{Value: role}
		for _, ar := range app.AppRoles {
			if ar.Value == role {
				p.ID = ar.ID
			}
		}
		d.Permissions = append(d.Permissions, p)
	}
	s.consentPage(w, r, http.StatusOK, d)
}

// consentAnswer redirects to the app with v (and state), or says msg on a
// page when the request named no redirect_uri.
func (s *Server) consentAnswer(w http.ResponseWriter, r *http.Request, c consentRequest, t *Tenant, v url.Values, msg string) {
	if c.redirectURI == "" {
		s.consentPage(w, r, http.StatusOK, consentPageData{Done: msg, Tenant: t.DisplayName})
		return
	}
	if c.state != "" {
		v.Set("state", c.state)
	}
	u, _ := url.Parse(c.redirectURI) // checked by redirectAllowed
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

type consentPermission struct{ Value, ID string }

type consentPageData struct {
	Ask                                        bool
	App, ClientID, Publisher, Tenant, TenantID string
	RedirectURI, Action, Token                 string
	Hidden                                     url.Values
	Permissions                                []consentPermission
	Granted                                    []string
	Done, Error                                string
}

var consentTemplate = template.Must(template.New("consent").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Permissions requested - fakeidp</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}code{background:#eee}</style></head>
<body>
<p><small>tenantbridge fakeidp: an offline emulator of Microsoft Entra admin consent</small></p>
{{if .Error}}<h1>Sign-in error</h1><p id="error">{{.Error}}</p>
{{else if .Done}}<h1>{{.Done}}</h1><p>Tenant: {{.Tenant}}. You can close this page.</p>
{{else}}<h1>Permissions requested</h1>
<p><strong>{{.App}}</strong> (client ID <code>{{.ClientID}}</code>), published by {{.Publisher}}, asks an administrator of
<strong>{{.Tenant}}</strong> (<code>{{.TenantID}}</code>) to accept, for the whole organization:</p>
<ul id="permissions">{{range .Permissions}}<li><code>{{.Value}}</code> (application permission{{if .ID}}, app role {{.ID}}{{end}})</li>{{end}}</ul>
{{if .Granted}}<p>Already granted: {{range $i, $g := .Granted}}{{if $i}}, {{end}}<code>{{$g}}</code>{{end}}.</p>{{end}}
<p>Accepting lets the app get tokens in this tenant without a signed-in user.{{if .RedirectURI}} You will then be sent back to <code>{{.RedirectURI}}</code>.{{end}}</p>
<form method="post" action="{{.Action}}">
{{range $k, $vs := .Hidden}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
<input type="hidden" name="csrf_token" value="{{.Token}}">
<button type="submit" name="action" value="accept">Accept</button>
<button type="submit" name="action" value="cancel">Cancel</button>
</form>{{end}}
</body></html>
`))

// consentPage writes the HTML page; it may not be framed (clickjacking) nor
// load anything.
func (s *Server) consentPage(w http.ResponseWriter, r *http.Request, status int, d consentPageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = consentTemplate.Execute(w, d)
}

// GrantConsent records that an administrator of tenant consented to the app
// clientID with the app roles roles (values), replacing an earlier consent,
// as the admin-consent page does on Accept. Tokens issued from then on carry
// the roles. It fails for an unknown tenant or app, a single-tenant app
// outside its home tenant, or a role the app does not define.
func (s *Server) GrantConsent(tenant, clientID string, roles []string) error {
	if s.tenants[tenant] == nil {
		return fmt.Errorf("fakeidp: grant consent: unknown tenant %q", tenant)
	}
	app := s.apps[clientID]
	switch {
	case app == nil:
		return fmt.Errorf("fakeidp: grant consent: unknown app %q", clientID)
	case !app.MultiTenant && tenant != app.HomeTenant:
		return fmt.Errorf("fakeidp: grant consent: app %q is single-tenant; it cannot be consented outside its home tenant", clientID)
	}
	for _, r := range roles {
		if !appHasRole(app, r) {
			return fmt.Errorf("fakeidp: grant consent: %q is not one of the app's appRoles", r)
		}
	}
	c := &Consent{Tenant: tenant, ClientID: clientID, Roles: slices.Clone(roles)}
	s.consentMu.Lock()
	defer s.consentMu.Unlock()
	old := *s.consents.Load()
	next := make(map[[2]string]*Consent, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[[2]string{tenant, clientID}] = c
	s.consents.Store(&next)
	return nil
}

// Consents returns every consent in force: the scenario's and those granted
// since it started, one per tenant and app, sorted by tenant then client ID.
func (s *Server) Consents() []Consent {
	m := *s.consents.Load()
	out := make([]Consent, 0, len(m))
	for _, c := range m {
		out = append(out, Consent{Tenant: c.Tenant, ClientID: c.ClientID, Roles: slices.Clone(c.Roles)})
	}
	slices.SortFunc(out, func(a, b Consent) int {
		return strings.Compare(a.Tenant+"\x00"+a.ClientID, b.Tenant+"\x00"+b.ClientID)
	})
	return out
}
