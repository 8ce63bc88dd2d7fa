package fakeidp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// maxFormBytes bounds what the token endpoint reads; real token requests are
// a few kilobytes.
const maxFormBytes = 1 << 20

// assertionClockSkew is the tolerance applied to an assertion's exp and nbf,
// so that a client whose clock runs a little ahead or behind is not refused.
// Entra tolerates about five minutes.
const assertionClockSkew = 5 * time.Minute

// jwtBearerAssertionType is the only client_assertion_type Entra accepts.
const jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// graphResource is the resource URI of Microsoft Graph, the audience of the
// v1 tokens Graph receives.
const graphResource = "https://graph.microsoft.com"

const graphAppID = "00000003-0000-0000-c000-000000000000"

// tokenResponse is Entra's success body for client credentials.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// token is POST /{tenant}/oauth2/v2.0/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request, tenant string) {
	now := s.now()
	info := infoFrom(r.Context())
	info.tenant = tenant
	corr := clientRequestID(r)
	fail := func(e *entraError) {
		info.entraError(e)
		writeJSON(w, e.status, e.body(r.Context(), now, corr, s.url))
	}
	if r.Method != http.MethodPost {
		fail(newEntraError(codePostOnly, "The token endpoint only accepts POST requests."))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(newEntraError(codeBodyTooLarge, "The request body exceeds %d bytes.", maxFormBytes))
			return
		}
		fail(newEntraError(codeMissingParameter, "The request body could not be read."))
		return
	}
	var form url.Values
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/x-www-form-urlencoded" {
		// Like Entra, keep what parses and let the parameter checks speak.
		form, _ = url.ParseQuery(string(body))
	}
	info.form = redactForm(form)
	info.clientID = clip(form.Get("client_id"))
	if corr == "" && isGUID(form.Get("client-request-id")) {
		corr = form.Get("client-request-id") // @azure/identity also sends it in the form
	}
	resp, e := s.exchange(tenant, form, now)
	if e != nil {
		fail(e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// exchange validates a client-credentials request in Entra's observable
// order, so that each misconfiguration yields one code: tenant, request
// parameters, app, client authentication (assertion parse, algorithm, key,
// signature, time), federated credential (issuer, subject, audience),
// consent in the tenant.
func (s *Server) exchange(tenant string, form url.Values, now time.Time) (*tokenResponse, *entraError) {
	switch strings.ToLower(tenant) {
	case "common", "organizations", "consumers":
		return nil, newEntraError(codeCommonEndpoint, "The grant type is not supported over the /common, /organizations or /consumers endpoints. Use a tenant-specific endpoint.")
	}
	t := s.tenants[tenant]
	if t == nil {
		return nil, newEntraError(codeInvalidTenant, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", clip(tenant))
	}

	gt := form.Get("grant_type")
	if gt == "" {
		return nil, missing("grant_type")
	}
	if gt != "client_credentials" {
		return nil, newEntraError(codeUnsupportedGrant, "The app requested an unsupported grant type '%s'; this authority supports client_credentials.", clip(gt))
	}
	clientID := form.Get("client_id")
	if clientID == "" {
		return nil, missing("client_id")
	}
	scope := form.Get("scope")
	if scope == "" {
		return nil, missing("scope")
	}
	resource, e := parseScope(scope)
	if e != nil {
		return nil, e
	}

	app := s.apps[clientID]
	if app == nil || (!app.MultiTenant && tenant != app.HomeTenant) {
		return nil, notInTenant(clientID, t)
	}

	a := form.Get("client_assertion")
	if a == "" {
		if form.Get("client_secret") != "" {
			return nil, newEntraError(codeInvalidClientSecret, "Invalid client secret provided for app '%s'. Ensure the secret being sent in the request is the client secret value, not the client secret ID.", clip(clientID))
		}
		return nil, newEntraError(codeMissingAssertion, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
	}
	switch form.Get("client_assertion_type") {
	case jwtBearerAssertionType:
	case "":
		return nil, missing("client_assertion_type")
	default:
		return nil, newEntraError(codeUnexpectedAssertionType, "Unexpected client assertion type '%s'; expected '%s'.", clip(form.Get("client_assertion_type")), jwtBearerAssertionType)
	}
	claims, hosted, e := s.verifyAssertion(a, now)
	if e != nil {
		return nil, e
	}
	if e := matchFIC(app, claims, hosted); e != nil {
		return nil, e
	}

	var roles []string
	c := s.consent(tenant, clientID)
	if tenant != app.HomeTenant && c == nil {
		return nil, notInTenant(clientID, t)
	}
	res, ok := s.lookupResource(resource)
	if !ok {
		return nil, unknownResource(resource, t)
	}
	if c != nil {
		seen := map[string]bool{}
		for _, r := range c.Roles {
			if !seen[r] && appHasRole(app, r) {
				seen[r] = true
				roles = append(roles, r)
			}
		}
	}
	tok, err := s.accessToken(t.ID, app, res, roles, now)
	if err != nil {
		return nil, newEntraError(codeTransient, "The token could not be signed.")
	}
	secs := int64(s.lifetime / time.Second)
	return &tokenResponse{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: tok}, nil
}

func missing(param string) *entraError {
	return newEntraError(codeMissingParameter, "The request body must contain the following parameter: '%s'.", param)
}

func notInTenant(clientID string, t *Tenant) *entraError {
	return newEntraError(CodeAppNotFound, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clip(clientID), t.DisplayName)
}

// clip bounds a value the client sent before it is quoted in an error
// description, as Entra does, through the one clipper of the module: a quoted
// value never carries a JWT, a control character or more than 256 bytes.
func clip(v string) string { return leak.Clip(v, 256) }

// oidcScopes are what MSAL appends to every request, app-only ones
// included; they do not name a resource.
var oidcScopes = map[string]bool{"openid": true, "offline_access": true, "profile": true, "email": true}

// parseScope returns the one resource of a client-credentials scope.
func parseScope(scope string) (string, *entraError) {
	var res []string
	for _, f := range strings.Fields(scope) {
		if !oidcScopes[strings.ToLower(f)] {
			res = append(res, f)
		}
	}
	switch {
	case len(res) == 0:
		return "", newEntraError(codeInvalidScope, "The provided value for the input parameter 'scope' is not valid. The scope '%s' names no resource.", clip(scope))
	case len(res) > 1:
		return "", newEntraError(codeInvalidScope, "The provided value for the input parameter 'scope' is not valid. The scope '%s' names more than one resource; request a token for one resource at a time.", clip(scope))
	}
	if !strings.HasSuffix(res[0], "/.default") || res[0] == "/.default" {
		return "", newEntraError(codeScopeNotDefault, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", clip(res[0]))
	}
	return strings.TrimSuffix(res[0], "/.default"), nil
}

// verifyAssertion parses the assertion, checks alg, key and signature
// against its issuer's keys, then exp and nbf. hosted is false when the
// issuer is not one the fake hosts: its keys are then unavailable and the
// signature is judged after the federated-credential issuer check (Entra only
// fetches keys of issuers that a credential trusts).
func (s *Server) verifyAssertion(a string, now time.Time) (claims map[string]any, hosted bool, e *entraError) {
	claims, hosted, e = s.signedClaims(a)
	if e != nil {
		return nil, hosted, e
	}
	exp, okExp := numericDate(claims["exp"])
	nbf, okNbf := numericDate(claims["nbf"])
	_, hasNbf := claims["nbf"]
	if !okExp || (hasNbf && !okNbf) {
		return nil, hosted, newEntraError(CodeAssertionTime, "Client assertion is not within its valid time range: exp is missing or not a number.")
	}
	if now.After(exp.Add(assertionClockSkew)) || (okNbf && nbf.After(now.Add(assertionClockSkew))) {
		from := "(no nbf)"
		if okNbf {
			from = nbf.UTC().Format(time.RFC3339)
		}
		return nil, hosted, newEntraError(CodeAssertionTime, "Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.",
			now.UTC().Format(time.RFC3339), from, exp.UTC().Format(time.RFC3339))
	}
	return claims, hosted, nil
}

// signedClaims parses the assertion and checks alg, key and signature
// against its issuer's keys (only for issuers the fake hosts). A client
// presents the same assertion for every tenant until it nears expiry, so an
// assertion whose signature verified is remembered with its claims (by
// digest, per key): the next request with it costs a hash and a key lookup,
// not a JSON decode and an RSA verification. Time and federated-credential
// checks still run on every request. The claims are shared: read only.
func (s *Server) signedClaims(a string) (claims map[string]any, hosted bool, e *entraError) {
	d := sha256.Sum256([]byte(a))
	if v, ok := s.verified.get(d); ok {
		if key, _ := s.issuerKey(v.iss, v.kid); key == v.key {
			return v.claims, true, nil
		}
	}
	hdr, err := jwtpeek.ParseHeader(a)
	if err != nil || jwtpeek.Claims(a, &claims) != nil {
		return nil, false, newEntraError(codeMalformedJWT, "JWT token is invalid or malformed.")
	}
	badSig := func(format string, args ...any) *entraError {
		return newEntraError(CodeInvalidSignature, "Client assertion failed signature validation. "+format, args...)
	}
	if hdr.Alg != "RS256" {
		return nil, false, badSig("Algorithm '%s' is not accepted; client assertions must be signed with RS256.", clip(hdr.Alg))
	}
	iss, _ := claims["iss"].(string)
	key, hosted := s.issuerKey(iss, hdr.Kid)
	if !hosted {
		return claims, false, nil // judged after the issuer check, see verifyAssertion
	}
	if key == nil {
		return nil, true, badSig("The key '%s' was not found among the issuer's signing keys.", clip(hdr.Kid))
	}
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if _, err := p.Parse(a, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
		return nil, true, badSig("The signature does not verify with the key '%s'.", clip(hdr.Kid))
	}
	s.verified.add(d, verifiedAssertion{key: key, iss: iss, kid: hdr.Kid, claims: claims})
	return claims, true, nil
}

func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || f != f || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// issuerKey returns the key kid of an issuer the fake hosts (nil when the
// issuer has no such key): the Entra signing keys for
// "{URL()}/{tenant}/v2.0" (managed-identity tokens) and an external issuer's
// key for "{URL()}/issuers/{name}". hosted is false for other issuers.
func (s *Server) issuerKey(iss, kid string) (key *rsa.PublicKey, hosted bool) {
	rest, ok := strings.CutPrefix(iss, s.url+"/")
	if !ok {
		return nil, false
	}
	if name, ok := strings.CutPrefix(rest, "issuers/"); ok {
		k, ok := s.hostedIssuerKey(name)
		if !ok {
			return nil, false
		}
		if k.kid != kid {
			return nil, true
		}
		return &k.priv.PublicKey, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tenant, ok := strings.CutSuffix(rest, "/v2.0")
	if _, known := s.tenants[tenant]; !ok || !known {
		return nil, false
	}
	for _, k := range s.keys {
		if k.kid == kid {
			return &k.priv.PublicKey, true
		}
	}
	return nil, true
}

// verifiedCache remembers assertions whose signature verified, by digest,
// with the key that verified it and their claims, so that a client
// presenting one assertion for many tenants costs one RSA verification and
// one decode. A rotated key is a different *rsa.PublicKey, so its assertions
// are verified afresh (and fail). It holds at most maxVerified entries and
// starts over when full.
type verifiedCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]verifiedAssertion
}

type verifiedAssertion struct {
	key      *rsa.PublicKey
	iss, kid string
	claims   map[string]any // read only
}

const maxVerified = 1024

func (c *verifiedCache) get(d [sha256.Size]byte) (verifiedAssertion, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[d]
	return v, ok
}

func (c *verifiedCache) add(d [sha256.Size]byte, v verifiedAssertion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxVerified {
		c.m = make(map[[sha256.Size]byte]verifiedAssertion)
	}
	c.m[d] = v
}

// matchFIC finds a federated credential matching the assertion exactly and
// case-sensitively: issuer (700211), then subject (700213), then audience
// (700212).
func matchFIC(app *App, claims map[string]any, hosted bool) *entraError {
	iss, _ := claims["iss"].(string)
	sub, _ := claims["sub"].(string)
	auds := audiences(claims["aud"])
	const check = " Check the federated identity credential's Issuer, Subject and Audience against the presented assertion."

	var all, byIss []FederatedCredential
	all = app.FederatedCredentials
	var names []string
	for _, f := range all {
		names = append(names, f.Issuer)
		if f.Issuer == iss {
			byIss = append(byIss, f)
		}
	}
	if len(byIss) == 0 {
		return newEntraError(codeFICIssuer, "No matching federated identity record found for presented assertion issuer '%s'.%s%s", clip(iss), check, caseHint(iss, names))
	}
	if !hosted {
		return newEntraError(CodeInvalidSignature, "Client assertion failed signature validation. The signing keys of issuer '%s' could not be retrieved (the fake only hosts its own issuers).", clip(iss))
	}
	names = names[:0]
	var bySub []FederatedCredential
	for _, f := range byIss {
		names = append(names, f.Subject)
		if f.Subject == sub {
			bySub = append(bySub, f)
		}
	}
	if len(bySub) == 0 {
		return newEntraError(codeFICSubject, "No matching federated identity record found for presented assertion subject '%s'.%s%s", clip(sub), check, caseHint(sub, names))
	}
	names = names[:0]
	for _, f := range bySub {
		for _, want := range f.Audiences {
			names = append(names, want)
			for _, got := range auds {
				if got == want {
					return nil
				}
			}
		}
	}
	hint := ""
	for _, got := range auds {
		if hint = caseHint(got, names); hint != "" {
			break
		}
	}
	return newEntraError(codeFICAudience, "No matching federated identity record found for presented assertion audience '%s'.%s%s", clip(strings.Join(auds, " ")), check, hint)
}

// audiences reads aud, a string or an array of strings.
func audiences(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// servicePrincipalObjectID is the object ID of an app's service principal in
// a tenant: the oid and sub of the app's tokens there. It is derived from the
// tenant and the client ID, so it is stable across runs and differs per
// tenant, as in Entra.
func servicePrincipalObjectID(tenantID, clientID string) string {
	sum := sha256.Sum256([]byte("fakeidp service principal\x00" + tenantID + "\x00" + clientID))
	var b [16]byte
	copy(b[:], sum[:])
	b[6] = b[6]&0x0f | 0x80 // version 8: custom
	b[8] = b[8]&0x3f | 0x80
	return formatGUID(b)
}

// accessToken signs an app-only access token. Microsoft's APIs (Graph, ARM,
// Key Vault, Storage) receive v1 tokens (iss https://sts.windows.net/{tid}/,
// appid, appidacr, ver 1.0); the other resources get v2 tokens (iss
// {URL()}/{tid}/v2.0, azp, azpacr, ver 2.0).
func (s *Server) accessToken(tenant string, app *App, res resolvedResource, roles []string, now time.Time) (string, error) {
	sp := servicePrincipalObjectID(tenant, app.ClientID)
	claims := jwt.MapClaims{
		"tid":   tenant,
		"oid":   sp,
		"sub":   sp,
		"idtyp": "app",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(s.lifetime).Unix(),
		"uti":   randomID(),
	}
	claims["aud"] = res.aud
	if res.version == 1 {
		claims["iss"] = v1Issuer(tenant)
		claims["idp"] = v1Issuer(app.HomeTenant)
		claims["appid"] = app.ClientID
		claims["appidacr"] = "2"
		claims["app_displayname"] = app.DisplayName
		claims["ver"] = "1.0"
	} else {
		claims["iss"] = s.url + "/" + tenant + "/v2.0"
		claims["azp"] = app.ClientID
		claims["azpacr"] = "2"
		claims["ver"] = "2.0"
	}
	if len(roles) > 0 {
		claims["roles"] = roles
	}
	return s.currentKey().sign(claims)
}

// v1Issuer is the issuer of v1 access tokens for tenant, the public cloud's
// (whatever host the fake listens on): resource servers (graphtest, armtest)
// check it.
func v1Issuer(tenant string) string { return "https://sts.windows.net/" + tenant + "/" }

// randomID is a 16-byte random base64url string (uti, jti).
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// IssueExternalToken returns a JWT from the hosted external issuer (by name),
// as a Kubernetes projected service-account token or a GitHub Actions OIDC
// token would be; ttl <= 0 means one hour.
func (s *Server) IssueExternalToken(issuer, subject, audience string, ttl time.Duration) (string, error) {
	k, ok := s.hostedIssuerKey(issuer)
	if !ok {
		return "", errUnknownIssuer
	}
	if ttl <= 0 {
		ttl = time.Hour
	}
	now := s.now()
	return k.sign(jwt.MapClaims{
		"iss": s.IssuerURL(issuer),
		"sub": subject,
		"aud": audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"jti": randomID(),
	})
}
