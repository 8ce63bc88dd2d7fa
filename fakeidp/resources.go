package fakeidp

import (
	"strings"
)

// Resource is an API that Entra issues access tokens for: a service
// principal every tenant has, named by its app ID or one of its identifier
// URIs (the resource of a managed-identity request, the "{resource}/.default"
// of a token request). Entra refuses any other resource with
// invalid_resource / AADSTS500011, and so does the fake.
type Resource struct {
	Name           string   `json:"name"`
	AppID          string   `json:"appId,omitempty"`
	IdentifierURIs []string `json:"identifierUris"`
	// AccessTokenVersion is the version of the access tokens issued for it:
	// 1 (iss https://sts.windows.net/{tid}/, appid, appidacr, ver 1.0), as
	// for Microsoft Graph, Azure Resource Manager, Key Vault and Storage, or
	// 2 (iss {authority}/{tid}/v2.0, azp, azpacr, ver 2.0). 0 means 1.
	AccessTokenVersion int `json:"accessTokenVersion,omitempty"`
}

// The app IDs of Microsoft's APIs, as in every tenant (graphAppID is in
// token.go).
const (
	armAppID      = "797f4846-ba00-4fd7-ba43-dac1f8f63013"
	keyVaultAppID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"
	storageAppID  = "e406a681-f3d4-42a8-90b6-c2b029497af1"
)

// MicrosoftResources are the APIs every tenant of the fake has, whatever
// the scenario: Microsoft Graph, Azure Resource Manager (both of its
// audiences, with and without the trailing slash, as ARM accepts them), Key
// Vault, Storage and the token-exchange audience api://AzureADTokenExchange
// (whose managed-identity tokens are the v2 assertions federated
// credentials name). Every call returns a fresh copy.
func MicrosoftResources() []Resource {
	return []Resource{
		{Name: "Microsoft Graph", AppID: graphAppID, IdentifierURIs: []string{graphResource}, AccessTokenVersion: 1},
		{Name: "Windows Azure Service Management API", AppID: armAppID, AccessTokenVersion: 1, IdentifierURIs: []string{
			"https://management.core.windows.net/", "https://management.core.windows.net",
			"https://management.azure.com/", "https://management.azure.com",
		}},
		{Name: "Azure Key Vault", AppID: keyVaultAppID, IdentifierURIs: []string{"https://vault.azure.net"}, AccessTokenVersion: 1},
		{Name: "Azure Storage", AppID: storageAppID, IdentifierURIs: []string{"https://storage.azure.com"}, AccessTokenVersion: 1},
		{Name: "AzureADTokenExchange", IdentifierURIs: []string{TokenExchangeAudience}, AccessTokenVersion: 2},
	}
}

// resolvedResource is what a requested resource turned out to be.
type resolvedResource struct {
	aud     string // the token's aud
	version int    // 1 or 2
}

// lookupResource finds the resource a request names: one of
// MicrosoftResources, the scenario's Resources, or one of its apps (by
// client ID or identifier URI; scenario apps get v2 tokens, as apps whose
// manifest sets accessTokenAcceptedVersion 2). Identifier URIs match without
// regard to case or a trailing slash; aud is the URI as the resource spells
// it, the requested spelling when the resource lists it (ARM lists both).
func (s *Server) lookupResource(requested string) (resolvedResource, bool) {
	if requested == "" {
		return resolvedResource{}, false
	}
	trim := strings.TrimSuffix(requested, "/")
	match := func(uris []string) (string, bool) {
		found := ""
		for _, u := range uris {
			if strings.EqualFold(u, requested) {
				return u, true
			}
			if found == "" && strings.EqualFold(strings.TrimSuffix(u, "/"), trim) {
				found = u
			}
		}
		return found, found != ""
	}
	for _, r := range s.resources {
		v := r.AccessTokenVersion
		if v == 0 {
			v = 1
		}
		if aud, ok := match(r.IdentifierURIs); ok {
			return resolvedResource{aud: aud, version: v}, true
		}
		if r.AppID != "" && strings.EqualFold(r.AppID, requested) {
			aud := r.AppID
			if len(r.IdentifierURIs) > 0 {
				aud = r.IdentifierURIs[0]
			}
			return resolvedResource{aud: aud, version: v}, true
		}
	}
	for _, a := range s.sc.Apps {
		if strings.EqualFold(a.ClientID, requested) {
			return resolvedResource{aud: a.ClientID, version: 2}, true
		}
		if aud, ok := match(a.IdentifierURIs); ok {
			return resolvedResource{aud: aud, version: 2}, true
		}
	}
	return resolvedResource{}, false
}

// unknownResource is Entra's answer for a resource no service principal of
// the tenant has.
func unknownResource(resource string, t *Tenant) *entraError {
	name := t.ID
	if t.DisplayName != "" {
		name = t.DisplayName
	}
	return newEntraError(codeInvalidResource, "The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", clip(resource), name)
}
