package fakeidp

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/tenantbridge/tenantbridge/internal/fault"
)

// entraHandler routes the authority's paths:
//
//	/{tenant}/v2.0/.well-known/openid-configuration   openid
//	/{tenant}/discovery/v2.0/keys, /common/discovery/keys   keys
//	/common/discovery/instance                          discovery
//	/{tenant}/oauth2/v2.0/token                         token
//	/{tenant}/adminconsent, /{tenant}/v2.0/adminconsent  admin consent (consent.go)
//	/issuers/{name}/.well-known/openid-configuration    openid (external issuer)
//	/issuers/{name}/keys                                keys (external issuer)
func (s *Server) entraHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = withRequestID(w, r)
		seg := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		endpoint, h := "", http.HandlerFunc(s.notFound)
		switch {
		case len(seg) == 3 && seg[0] == "issuers" && seg[2] == "keys":
			endpoint, h = fault.EndpointKeys, func(w http.ResponseWriter, r *http.Request) { s.issuerKeysDoc(w, r, seg[1]) }
		case len(seg) == 4 && seg[0] == "issuers" && seg[2] == ".well-known" && seg[3] == "openid-configuration":
			endpoint, h = fault.EndpointOpenID, func(w http.ResponseWriter, r *http.Request) { s.issuerConfig(w, r, seg[1]) }
		case len(seg) == 3 && seg[0] == "common" && seg[1] == "discovery" && seg[2] == "instance":
			endpoint, h = fault.EndpointDiscovery, s.instanceDiscovery
		case len(seg) == 4 && seg[1] == "discovery" && seg[2] == "v2.0" && seg[3] == "keys",
			len(seg) == 3 && seg[1] == "discovery" && seg[2] == "keys":
			endpoint, h = fault.EndpointKeys, func(w http.ResponseWriter, r *http.Request) { s.keysDoc(w, r, seg[0]) }
		case len(seg) == 4 && seg[1] == "v2.0" && seg[2] == ".well-known" && seg[3] == "openid-configuration":
			endpoint, h = fault.EndpointOpenID, func(w http.ResponseWriter, r *http.Request) { s.openIDConfig(w, r, seg[0]) }
		case len(seg) == 4 && seg[1] == "oauth2" && seg[2] == "v2.0" && seg[3] == "token":
			endpoint, h = fault.EndpointToken, func(w http.ResponseWriter, r *http.Request) { s.token(w, r, seg[0]) }
		case len(seg) == 2 && seg[1] == "adminconsent", len(seg) == 3 && seg[1] == "v2.0" && seg[2] == "adminconsent":
			// No fault endpoint of its own: only faults for every endpoint apply.
			h = func(w http.ResponseWriter, r *http.Request) { s.adminConsent(w, r, seg[0], len(seg) == 3) }
		}
		tenant := ""
		if endpoint == fault.EndpointToken || (endpoint == fault.EndpointOpenID || endpoint == fault.EndpointKeys) && seg[0] != "issuers" ||
			strings.HasSuffix(r.URL.Path, "/adminconsent") {
			tenant = seg[0]
		}
		s.serve(ListenerEntra, endpoint, tenant, w, r, h)
	})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "fakeidp serves no such path"})
}

// tenantKnown accepts the scenario's tenants and the multi-tenant aliases,
// which discovery serves (only the token endpoint refuses them).
func (s *Server) tenantKnown(t string) bool {
	if _, ok := s.tenants[t]; ok {
		return true
	}
	switch t {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}

// discoveryError answers an unknown tenant the way Entra's discovery does.
func (s *Server) discoveryError(w http.ResponseWriter, r *http.Request, tenant string) {
	e := newEntraError(codeInvalidTenant, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant)
	e.err = "invalid_tenant"
	infoFrom(r.Context()).entraError(e)
	writeJSON(w, e.status, e.body(r.Context(), s.now(), clientRequestID(r), s.url))
}

// openIDConfig is the v2.0 OpenID Provider metadata. MSAL (Go and JS) reads
// issuer (same scheme and host as the authority), token_endpoint and
// authorization_endpoint; the rest mirrors Entra for other clients. For
// /common and /organizations Entra keeps the "{tenantid}" template in issuer.
func (s *Server) openIDConfig(w http.ResponseWriter, r *http.Request, tenant string) {
	info := infoFrom(r.Context())
	info.tenant = tenant
	if !s.tenantKnown(tenant) {
		s.discoveryError(w, r, tenant)
		return
	}
	base := s.url + "/" + tenant
	issuer := base + "/v2.0"
	if _, ok := s.tenants[tenant]; !ok {
		issuer = s.url + "/{tenantid}/v2.0"
	}
	cloud := s.Cloud()
	graphHost := strings.TrimPrefix(cloud.GraphHost, "https://")
	writeCacheableJSON(w, map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"userinfo_endpoint":                     cloud.GraphHost + "/oidc/userinfo",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"claims_supported":                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"request_uri_parameter_supported":       false,
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"tenant_region_scope":                   "WW",
		"cloud_instance_name":                   cloud.InstanceName,
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          graphHost,
		"rbac_url":                              "https://pas.windows.net",
	})
}

// keysDoc is the JWKS of the Entra signing keys. Every tenant shares them, as
// in Entra.
func (s *Server) keysDoc(w http.ResponseWriter, r *http.Request, tenant string) {
	info := infoFrom(r.Context())
	info.tenant = tenant
	if !s.tenantKnown(tenant) {
		s.discoveryError(w, r, tenant)
		return
	}
	s.mu.Lock()
	doc := jwks{Keys: make([]jwk, 0, len(s.keys))}
	for _, k := range s.keys {
		doc.Keys = append(doc.Keys, k.jwk(s.url+"/{tenantid}/v2.0"))
	}
	s.mu.Unlock()
	writeCacheableJSON(w, doc)
}

// instanceDiscovery answers MSAL's /common/discovery/instance the way Entra
// does for a known cloud: the authority's host is its own only alias.
func (s *Server) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	host := strings.TrimPrefix(s.url, "https://")
	tenant := "common"
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		if u, err := url.Parse(ae); err == nil {
			if seg := strings.Split(strings.TrimPrefix(u.Path, "/"), "/"); len(seg) > 0 && seg[0] != "" {
				tenant = seg[0]
			}
		}
	}
	writeCacheableJSON(w, map[string]any{
		"tenant_discovery_endpoint": s.url + "/" + url.PathEscape(tenant) + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	})
}

func (s *Server) issuerConfig(w http.ResponseWriter, r *http.Request, name string) {
	if _, ok := s.issuerKinds[name]; !ok {
		s.notFound(w, r)
		return
	}
	iss := s.IssuerURL(name)
	writeCacheableJSON(w, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + "/keys",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (s *Server) issuerKeysDoc(w http.ResponseWriter, r *http.Request, name string) {
	k, ok := s.hostedIssuerKey(name)
	if !ok {
		s.notFound(w, r)
		return
	}
	writeCacheableJSON(w, jwks{Keys: []jwk{k.jwk("")}})
}
