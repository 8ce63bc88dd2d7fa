package fakeidp

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tenantbridge/tenantbridge/internal/fault"
)

// Paths of the managed-identity endpoints on the MSI listener.
const (
	appServicePath = "/msi/token"
	imdsPath       = "/metadata/identity/oauth2/token"
)

// API versions the fake's managed-identity endpoints speak.
const (
	appServiceAPIVersion    = "2019-08-01"
	appServiceLegacyVersion = "2017-09-01"
	imdsAPIVersion          = "2018-02-01"
	// appServiceLegacyDateForm is expires_on of 2017-09-01 as App Service on
	// Linux sends it ("05/22/2021 17:14:33 +00:00"): a 24-hour clock. The
	// Azure CLI's parser (msrestazure, `az login --identity`) accepts only
	// this form; an "… 05:14:33 PM …" form crashes it.
	appServiceLegacyDateForm = "01/02/2006 15:04:05 -07:00"
)

func (s *Server) msiHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		endpoint, h := "", http.HandlerFunc(s.notFound)
		// msal-node asks IMDS for ".../oauth2/token/" when
		// AZURE_POD_IDENTITY_AUTHORITY_HOST is set; the real endpoints accept
		// the trailing slash, so the fake does too.
		switch strings.TrimSuffix(r.URL.Path, "/") {
		case appServicePath:
			endpoint, h = fault.EndpointAppService, s.appService
		case imdsPath:
			endpoint, h = fault.EndpointIMDS, s.imds
		}
		s.serve(ListenerMSI, endpoint, "", w, r, h)
	})
}

// appServiceError is the App Service identity endpoint's error shape.
func appServiceError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "correlationId": newGUID()})
}

// appService is GET /msi/token: 2019-08-01 authenticates with the
// X-IDENTITY-HEADER header and answers expires_on as epoch seconds;
// 2017-09-01 uses the "secret" header and a date-form expires_on; both carry
// the identity's client_id, as the real responses do.
func (s *Server) appService(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	info := infoFrom(r.Context())
	info.form = redactForm(q)
	if r.Method != http.MethodGet {
		appServiceError(w, http.StatusMethodNotAllowed, "The managed identity endpoint only accepts GET.")
		return
	}
	var header string
	var selectors []string
	switch v := q.Get("api-version"); v {
	case appServiceAPIVersion:
		header = "X-IDENTITY-HEADER"
		selectors = []string{"client_id", "principal_id", "object_id", "mi_res_id"}
	case appServiceLegacyVersion:
		header = "secret"
		selectors = []string{"clientid", "client_id", "principal_id", "object_id", "mi_res_id"}
	case "":
		appServiceError(w, http.StatusBadRequest, "The api-version query parameter is required.")
		return
	default:
		appServiceError(w, http.StatusBadRequest, "Unsupported api-version '"+clip(v)+"'; use "+appServiceAPIVersion+" or "+appServiceLegacyVersion+".")
		return
	}
	got := r.Header.Get(header)
	if got == "" {
		appServiceError(w, http.StatusBadRequest, "The "+header+" header is missing.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.identityHeader)) != 1 {
		appServiceError(w, http.StatusUnauthorized, "The "+header+" header value is not valid.")
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		appServiceError(w, http.StatusBadRequest, "The resource query parameter is required.")
		return
	}
	id, err := s.selectIdentity(q, selectors, info)
	if err != nil {
		appServiceError(w, http.StatusBadRequest, err.Error())
		return
	}
	if e := s.checkResource(id, resource); e != nil {
		// App Service relays Entra's verdict in its own shape.
		info.entraError(e)
		body := e.body(r.Context(), s.now(), "", s.url)
		writeJSON(w, e.status, map[string]any{"statusCode": e.status, "message": body.ErrorDescription, "correlationId": body.CorrelationID})
		return
	}
	tok, exp, err := s.IssueManagedIdentityToken(*id, resource)
	if err != nil {
		appServiceError(w, http.StatusInternalServerError, "The token could not be issued.")
		return
	}
	if header == "secret" {
		writeJSON(w, http.StatusOK, map[string]string{
			"access_token": tok,
			"expires_on":   exp.UTC().Format(appServiceLegacyDateForm),
			"resource":     resource,
			"token_type":   "Bearer",
			"client_id":    id.ClientID,
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok,
		"expires_on":   strconv.FormatInt(exp.Unix(), 10),
		"resource":     resource,
		"token_type":   "Bearer",
		"client_id":    id.ClientID,
	})
}

// imdsError is IMDS's error shape.
func imdsError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	infoFrom(r.Context()).code = code
	writeJSON(w, status, map[string]string{"error": code, "error_description": msg})
}

// imdsNotBeforeSkew is how far before issue IMDS dates not_before (and the
// token's nbf): 5 minutes, as recorded responses show, so that a client whose
// clock runs a little behind accepts the token at once.
const imdsNotBeforeSkew = 5 * time.Minute

// checkResource answers Entra's invalid_resource / AADSTS500011 when no
// service principal of the identity's tenant is named resource, as the
// managed-identity endpoints relay it.
func (s *Server) checkResource(id *ManagedIdentity, resource string) *entraError {
	if _, ok := s.lookupResource(resource); ok {
		return nil
	}
	t := s.tenants[id.HomeTenant]
	if t == nil {
		t = &Tenant{ID: id.HomeTenant}
	}
	return unknownResource(resource, t)
}

// imds is GET /metadata/identity/oauth2/token, api-version 2018-02-01, which
// insists on the Metadata: true header (a guard against SSRF).
func (s *Server) imds(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	info := infoFrom(r.Context())
	info.form = redactForm(q)
	if r.Method != http.MethodGet {
		imdsError(w, r, http.StatusMethodNotAllowed, "invalid_request", "Only GET is supported")
		return
	}
	if r.Header.Get("Metadata") != "true" {
		imdsError(w, r, http.StatusBadRequest, "invalid_request", "Required metadata header not specified")
		return
	}
	if s.imdsWarmingUp() {
		imdsError(w, r, http.StatusGone, "temporarily_unavailable", "The managed identity is not available yet; retry within 70 seconds")
		return
	}
	switch v := q.Get("api-version"); v {
	case imdsAPIVersion:
	case "":
		imdsError(w, r, http.StatusBadRequest, "invalid_request", "Required query variable 'api-version' is missing")
		return
	default:
		imdsError(w, r, http.StatusBadRequest, "invalid_request", "Invalid api-version '"+clip(v)+"'")
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		imdsError(w, r, http.StatusBadRequest, "invalid_request", "Required query variable 'resource' is missing")
		return
	}
	id, err := s.selectIdentity(q, []string{"client_id", "object_id", "msi_res_id"}, info)
	if err != nil {
		msg := "Identity not found"
		if errors.Is(err, errManySelectors) {
			msg = err.Error()
		}
		imdsError(w, r, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	s.answerIMDS(w, r, info, id, resource)
}

// answerIMDS issues id's token for resource in IMDS's answer form (the Azure
// Arc agent answers in the same form), or relays Entra's refusal of an
// unknown resource as IMDS does.
func (s *Server) answerIMDS(w http.ResponseWriter, r *http.Request, info *reqInfo, id *ManagedIdentity, resource string) {
	if e := s.checkResource(id, resource); e != nil {
		// IMDS relays Entra's error body as it is.
		info.entraError(e)
		writeJSON(w, e.status, e.body(r.Context(), s.now(), "", s.url))
		return
	}
	now := s.now()
	tok, exp, err := s.IssueManagedIdentityToken(*id, resource)
	if err != nil {
		imdsError(w, r, http.StatusInternalServerError, "server_error", "The token could not be issued")
		return
	}
	secs := strconv.FormatInt(int64(exp.Sub(now)/time.Second), 10)
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token":   tok,
		"refresh_token":  "",
		"expires_in":     secs,
		"expires_on":     strconv.FormatInt(exp.Unix(), 10),
		"ext_expires_in": secs,
		"not_before":     strconv.FormatInt(now.Add(-imdsNotBeforeSkew).Unix(), 10),
		"resource":       resource,
		"token_type":     "Bearer",
		"client_id":      id.ClientID,
	})
}

var (
	errManySelectors = errors.New("Only one of client_id, object_id/principal_id or the resource ID may be given")
	errNoIdentity    = errors.New("No MSI found for specified ClientId/ResourceId.")
)

// selectIdentity picks the identity a request names; without a selector it is
// the system-assigned identity, as on App Service and VMs.
func (s *Server) selectIdentity(q map[string][]string, selectors []string, info *reqInfo) (*ManagedIdentity, error) {
	var name, val string
	for _, sel := range selectors {
		if v := first(q[sel]); v != "" {
			if name != "" {
				return nil, errManySelectors
			}
			name, val = sel, v
		}
	}
	for i := range s.identities {
		m := &s.identities[i]
		var ok bool
		switch name {
		case "":
			ok = m.Kind == KindSystem
		case "client_id", "clientid":
			ok = strings.EqualFold(m.ClientID, val)
		case "object_id", "principal_id":
			ok = strings.EqualFold(m.ObjectID, val)
		case "mi_res_id", "msi_res_id":
			ok = strings.EqualFold(m.ResourceID, val)
		}
		if ok {
			info.clientID = m.ClientID
			return m, nil
		}
	}
	return nil, errNoIdentity
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// IssueManagedIdentityToken signs the JWT the managed-identity endpoints
// return: sub = oid = the object ID, aud = resource, appid = the client ID,
// 24 hours of validity, nbf 5 minutes before issue. For Microsoft's APIs
// (Graph, ARM, Key Vault, Storage) it is a v1 token (iss
// https://sts.windows.net/{tid}/, ver 1.0, appidacr), as Entra issues them;
// for api://AzureADTokenExchange and every other resource a v2 token (iss =
// IssuerURL(identity.HomeTenant), the issuer a federated credential names,
// azp, ver 2.0). It is signed with the Entra signing keys, so the token
// endpoint accepts it as an assertion until RotateKeys. Unlike the HTTP
// endpoints it does not refuse a resource the scenario lacks.
func (s *Server) IssueManagedIdentityToken(identity ManagedIdentity, resource string) (token string, expiresOn time.Time, err error) {
	if identity.HomeTenant == "" || identity.ObjectID == "" {
		return "", time.Time{}, errors.New("fakeidp: managed identity needs HomeTenant and ObjectID")
	}
	if resource == "" {
		return "", time.Time{}, errors.New("fakeidp: managed identity token needs a resource")
	}
	now := s.now()
	exp := now.Add(managedIdentityLifetime)
	claims := jwt.MapClaims{
		"iss":   s.IssuerURL(identity.HomeTenant),
		"sub":   identity.ObjectID,
		"oid":   identity.ObjectID,
		"aud":   resource,
		"tid":   identity.HomeTenant,
		"appid": identity.ClientID,
		"azp":   identity.ClientID,
		"idtyp": "app",
		"ver":   "2.0",
		"iat":   now.Unix(),
		"nbf":   now.Add(-imdsNotBeforeSkew).Unix(),
		"exp":   exp.Unix(),
		"uti":   randomID(),
	}
	if res, ok := s.lookupResource(resource); ok {
		claims["aud"] = res.aud
		if res.version == 1 {
			claims["iss"] = v1Issuer(identity.HomeTenant)
			claims["idp"] = v1Issuer(identity.HomeTenant)
			claims["ver"] = "1.0"
			claims["appidacr"] = "2"
			delete(claims, "azp")
		}
	}
	if identity.ResourceID != "" {
		claims["xms_mirid"] = identity.ResourceID
	}
	tok, err := s.currentKey().sign(claims)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}
