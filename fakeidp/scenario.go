package fakeidp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Scenario is the directory the fake serves: tenants with their devices, app
// registrations with federated identity credentials, per-tenant consents,
// managed identities and the external OIDC issuers the fake hosts.
//
// A Scenario is plain data. New copies it, so changing a Scenario after New has
// no effect on the running server. Devices are the exception: they are for
// the fake Graph (the emulator hands them over), fakeidp never reads them,
// so New does not copy them and [Server.Scenario] shares them with the
// caller's scenario.
type Scenario struct {
	Tenants           []Tenant          `json:"tenants"`
	Apps              []App             `json:"apps"`
	Consents          []Consent         `json:"consents"`
	ManagedIdentities []ManagedIdentity `json:"managedIdentities"`
	// Issuers are external OIDC issuers (workload identity files,
	// GitHub-style tokens), hosted by the fake at {URL()}/issuers/{Name}.
	Issuers []ExternalIssuer `json:"issuers"`
	// Generate adds tenants described by count (see [Generate]).
	Generate *Generate `json:"generate,omitempty"`
	// Resources are APIs that tokens can be requested for, in addition to
	// [MicrosoftResources] and the apps (by client ID or identifier URI):
	// any other resource is refused with invalid_resource / AADSTS500011,
	// as Entra refuses it.
	Resources []Resource `json:"resources,omitempty"`
	// Cloud is the Microsoft cloud the scenario is set in: "" or "public",
	// "usgov" or "china" (see [Clouds]). It decides the token-exchange
	// audience of [DefaultScenarioIn] and what discovery documents say.
	Cloud string `json:"cloud,omitempty"`
}

// Tenant is a Microsoft Entra tenant (directory).
type Tenant struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	Devices     []Device `json:"devices"`
	// GeneratedDevices is a number of devices the fake Graph makes up for
	// the tenant, after Devices, without them being listed here.
	GeneratedDevices int `json:"generatedDevices,omitempty"`
	// Subscriptions are the Azure subscriptions of the tenant, which the
	// emulator's fake Azure Resource Manager serves.
	Subscriptions []Subscription `json:"subscriptions,omitempty"`
}

// Subscription is an Azure subscription of a tenant, with its resource
// groups; the JSON names are ARM's.
type Subscription struct {
	ID             string          `json:"subscriptionId"`
	DisplayName    string          `json:"displayName"`
	State          string          `json:"state,omitempty"` // "" means Enabled
	ResourceGroups []ResourceGroup `json:"resourceGroups,omitempty"`
}

// ResourceGroup is a resource group of a subscription.
type ResourceGroup struct {
	Name     string `json:"name"`
	Location string `json:"location,omitempty"` // "" means westeurope
}

// Device mirrors the Microsoft Graph device resource; the JSON names are
// Graph's so that a fake Graph can serve the values unchanged.
type Device struct {
	ID                            string    `json:"id"`
	DeviceID                      string    `json:"deviceId"`
	DisplayName                   string    `json:"displayName"`
	OperatingSystem               string    `json:"operatingSystem"`
	OperatingSystemVersion        string    `json:"operatingSystemVersion"`
	TrustType                     string    `json:"trustType"`
	AccountEnabled                bool      `json:"accountEnabled"`
	IsCompliant                   bool      `json:"isCompliant"`
	IsManaged                     bool      `json:"isManaged"`
	ApproximateLastSignInDateTime time.Time `json:"approximateLastSignInDateTime"`
}

// App is an app registration (the application object in its home tenant).
type App struct {
	ClientID             string                `json:"clientId"`
	DisplayName          string                `json:"displayName"`
	HomeTenant           string                `json:"homeTenant"`
	MultiTenant          bool                  `json:"multiTenant"`
	AppRoles             []AppRole             `json:"appRoles"`
	FederatedCredentials []FederatedCredential `json:"federatedCredentials"`
	// RequiredRoles are the application permissions the app asks for (role
	// values). The fake does not enforce them; consents decide what a token
	// carries. They document intent, let tools explain missing consent and
	// are what the admin-consent page grants.
	RequiredRoles []string `json:"requiredRoles"`
	// IdentifierURIs name the app as a resource ("api://{clientId}"), besides
	// its client ID: tokens for "{uri}/.default" have aud uri (v2 tokens).
	IdentifierURIs []string `json:"identifierUris,omitempty"`
	// RedirectURIs are where the admin-consent page may send the browser
	// back to, besides loopback URLs (which it always accepts).
	RedirectURIs []string `json:"redirectUris,omitempty"`
}

// AppRole is an application permission, e.g.
// {"7438b122-aefc-4978-80ed-43db9fcc7715", "Device.Read.All"}.
type AppRole struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// FederatedCredential is a federated identity credential on an app: Entra
// accepts an assertion whose iss, sub and aud match one of them exactly.
type FederatedCredential struct {
	Name string `json:"name"`
	// Issuer may contain the placeholder "{authority}", replaced by
	// Server.URL() when the server starts (the port is not known before).
	Issuer    string   `json:"issuer"`
	Subject   string   `json:"subject"`
	Audiences []string `json:"audiences"`
}

// Consent records that a tenant's administrator granted an app's application
// permissions: the app then has a service principal in that tenant and its
// tokens carry these roles.
type Consent struct {
	Tenant   string   `json:"tenant"`
	ClientID string   `json:"clientId"`
	Roles    []string `json:"roles"` // role values, e.g. "Device.Read.All"
}

// ManagedIdentity is a system- or user-assigned managed identity.
type ManagedIdentity struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"` // "system" | "user"
	ObjectID   string `json:"objectId"`
	ClientID   string `json:"clientId"`
	ResourceID string `json:"resourceId"`
	HomeTenant string `json:"homeTenant"`
}

// ExternalIssuer is an OIDC issuer hosted by the fake, standing in for a
// Kubernetes service-account issuer or GitHub Actions. Its issuer string is
// Server.IssuerURL(Name).
type ExternalIssuer struct {
	Name string `json:"name"`
	// Kind is "" for a generic OIDC issuer (a Kubernetes service-account
	// issuer) or [IssuerKindGitHub].
	Kind string `json:"kind,omitempty"`
	// Repository (ORG/REPO), Ref (refs/heads/…, refs/tags/…) and
	// Environment are, for a GitHub issuer, the job its token request
	// endpoint issues tokens for (see [GitHubRun]).
	Repository  string `json:"repository,omitempty"`
	Ref         string `json:"ref,omitempty"`
	Environment string `json:"environment,omitempty"`
}

// Kinds of managed identity.
const (
	KindSystem = "system"
	KindUser   = "user"
)

// maxFederatedCredentials is Entra's limit of federated identity credentials
// per application.
const maxFederatedCredentials = 20

// AuthorityPlaceholder in a federated credential's issuer is replaced by
// Server.URL().
const AuthorityPlaceholder = "{authority}"

// TokenExchangeAudience is the audience Entra expects in assertions for
// workload identity federation.
const TokenExchangeAudience = "api://AzureADTokenExchange"

// The IDs of DefaultScenario. They are fixed so that tests, docs and the demo
// can name them.
const (
	DefaultHomeTenantID        = "11111111-1111-1111-1111-111111111111"
	DefaultConsentedTenantID   = "22222222-2222-2222-2222-222222222222"
	DefaultUnconsentedTenantID = "33333333-3333-3333-3333-333333333333"
	DefaultAppClientID         = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"

	DefaultSystemIdentityObjectID = "bbbbbbbb-0000-0000-0000-000000000001"
	DefaultSystemIdentityClientID = "bbbbbbbb-0000-0000-0000-000000000002"
	DefaultUserIdentityObjectID   = "cccccccc-0000-0000-0000-000000000001"
	DefaultUserIdentityClientID   = "cccccccc-0000-0000-0000-000000000002"
	DefaultUserIdentityResourceID = "/subscriptions/" + DefaultHomeSubscriptionID + "/resourceGroups/rg-tenantbridge/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-tenantbridge"

	// The subscriptions of DefaultScenario, one per tenant, which the fake
	// Azure Resource Manager lists; the home one holds the Function App and
	// the user-assigned identity.
	DefaultHomeSubscriptionID        = "44444444-4444-4444-4444-444444444444"
	DefaultConsentedSubscriptionID   = "55555555-5555-5555-5555-555555555555"
	DefaultUnconsentedSubscriptionID = "66666666-6666-6666-6666-666666666666"

	DefaultWorkloadIssuer  = "workload"
	DefaultWorkloadSubject = "system:serviceaccount:default:workload"

	// DeviceReadAllRoleID is Microsoft Graph's app role ID for Device.Read.All.
	DeviceReadAllRoleID = "7438b122-aefc-4978-80ed-43db9fcc7715"
)

// DefaultScenario reproduces the setup of the problem tenantbridge solves:
//
//   - tenant "Contoso (home)" (DefaultHomeTenantID) holds the Function App: a
//     system-assigned identity (what a request without selector gets, as on
//     App Service) and a user-assigned one;
//   - the multi-tenant app DefaultAppClientID, home Contoso, with the app role
//     Device.Read.All and federated credentials trusting both identities
//     (issuer "{authority}/{home}/v2.0", subject = the identity's object ID,
//     audience api://AzureADTokenExchange) and the service account
//     DefaultWorkloadSubject of the hosted external issuer "workload", and
//     GitHub Actions jobs of DefaultGitHubRepository on its main branch
//     (DefaultGitHubSubject, the hosted GitHub-kind issuer "github");
//   - "Fabrikam (consented)" (DefaultConsentedTenantID) granted Device.Read.All;
//   - "Northwind (not consented)" (DefaultUnconsentedTenantID) did not;
//   - three to five devices in each tenant;
//   - one Azure subscription in each tenant (DefaultHomeSubscriptionID,
//     DefaultConsentedSubscriptionID, DefaultUnconsentedSubscriptionID), with
//     one or two resource groups.
//
// Tenants are listed home first, then consented, then not consented. Every
// call returns a fresh copy.
func DefaultScenario() *Scenario {
	seen := time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC)
	dev := func(tenantDigit string, n int, name, os, ver, trust string, compliant bool) Device {
		return Device{
			ID:                            fmt.Sprintf("d%s%s%s%s%s%s%s-0000-0000-0000-%012d", tenantDigit, tenantDigit, tenantDigit, tenantDigit, tenantDigit, tenantDigit, tenantDigit, n),
			DeviceID:                      fmt.Sprintf("e%s%s%s%s%s%s%s-0000-0000-0000-%012d", tenantDigit, tenantDigit, tenantDigit, tenantDigit, tenantDigit, tenantDigit, tenantDigit, n),
			DisplayName:                   name,
			OperatingSystem:               os,
			OperatingSystemVersion:        ver,
			TrustType:                     trust,
			AccountEnabled:                true,
			IsCompliant:                   compliant,
			IsManaged:                     true,
			ApproximateLastSignInDateTime: seen.Add(-time.Duration(n) * 24 * time.Hour),
		}
	}
	return &Scenario{
		Tenants: []Tenant{
			{ID: DefaultHomeTenantID, DisplayName: "Contoso (home)", Devices: []Device{
				dev("1", 1, "CONTOSO-LT-001", "Windows", "10.0.22631.4460", "AzureAd", true),
				dev("1", 2, "CONTOSO-LT-002", "Windows", "10.0.26100.2314", "AzureAd", true),
				dev("1", 3, "contoso-mac-01", "MacMDM", "15.1", "Workplace", false),
			}, Subscriptions: []Subscription{{ID: DefaultHomeSubscriptionID, DisplayName: "Contoso production",
				ResourceGroups: []ResourceGroup{{Name: "rg-tenantbridge", Location: "westeurope"}}}}},
			{ID: DefaultConsentedTenantID, DisplayName: "Fabrikam (consented)", Devices: []Device{
				dev("2", 1, "FAB-DESK-001", "Windows", "10.0.22631.4460", "ServerAd", true),
				dev("2", 2, "FAB-DESK-002", "Windows", "10.0.22631.4460", "ServerAd", true),
				dev("2", 3, "fab-iphone-07", "iOS", "18.1", "Workplace", true),
				dev("2", 4, "FAB-KIOSK-01", "Windows", "10.0.19045.5131", "AzureAd", false),
			}, Subscriptions: []Subscription{{ID: DefaultConsentedSubscriptionID, DisplayName: "Fabrikam production",
				ResourceGroups: []ResourceGroup{{Name: "rg-fabrikam-web", Location: "northeurope"}, {Name: "rg-fabrikam-data", Location: "northeurope"}}}}},
			{ID: DefaultUnconsentedTenantID, DisplayName: "Northwind (not consented)", Devices: []Device{
				dev("3", 1, "NW-LT-100", "Windows", "10.0.26100.2314", "AzureAd", true),
				dev("3", 2, "nw-android-3", "Android", "15", "Workplace", true),
				dev("3", 3, "NW-LT-101", "Windows", "10.0.26100.2314", "AzureAd", false),
				dev("3", 4, "nw-mac-2", "MacMDM", "14.7", "Workplace", true),
				dev("3", 5, "NW-SRV-01", "Windows", "10.0.20348.2849", "ServerAd", true),
			}, Subscriptions: []Subscription{{ID: DefaultUnconsentedSubscriptionID, DisplayName: "Northwind",
				ResourceGroups: []ResourceGroup{{Name: "rg-northwind", Location: "eastus"}}}}},
		},
		Apps: []App{{
			ClientID:    DefaultAppClientID,
			DisplayName: "tenantbridge devices",
			HomeTenant:  DefaultHomeTenantID,
			MultiTenant: true,
			AppRoles:    []AppRole{{ID: DeviceReadAllRoleID, Value: "Device.Read.All"}},
			FederatedCredentials: []FederatedCredential{
				{Name: "function-app-system", Issuer: AuthorityPlaceholder + "/" + DefaultHomeTenantID + "/v2.0", Subject: DefaultSystemIdentityObjectID, Audiences: []string{TokenExchangeAudience}},
				{Name: "function-app-user", Issuer: AuthorityPlaceholder + "/" + DefaultHomeTenantID + "/v2.0", Subject: DefaultUserIdentityObjectID, Audiences: []string{TokenExchangeAudience}},
				{Name: "aks-workload", Issuer: AuthorityPlaceholder + "/issuers/" + DefaultWorkloadIssuer, Subject: DefaultWorkloadSubject, Audiences: []string{TokenExchangeAudience}},
				{Name: "github-main", Issuer: AuthorityPlaceholder + "/issuers/" + DefaultGitHubIssuer, Subject: DefaultGitHubSubject, Audiences: []string{TokenExchangeAudience}},
			},
			RequiredRoles:  []string{"Device.Read.All"},
			IdentifierURIs: []string{"api://" + DefaultAppClientID},
		}},
		Consents: []Consent{
			{Tenant: DefaultHomeTenantID, ClientID: DefaultAppClientID, Roles: []string{"Device.Read.All"}},
			{Tenant: DefaultConsentedTenantID, ClientID: DefaultAppClientID, Roles: []string{"Device.Read.All"}},
		},
		ManagedIdentities: []ManagedIdentity{
			{Name: "func-tenantbridge", Kind: KindSystem, ObjectID: DefaultSystemIdentityObjectID, ClientID: DefaultSystemIdentityClientID,
				ResourceID: "/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/rg-tenantbridge/providers/Microsoft.Web/sites/func-tenantbridge",
				HomeTenant: DefaultHomeTenantID},
			{Name: "id-tenantbridge", Kind: KindUser, ObjectID: DefaultUserIdentityObjectID, ClientID: DefaultUserIdentityClientID,
				ResourceID: DefaultUserIdentityResourceID, HomeTenant: DefaultHomeTenantID},
		},
		Issuers: []ExternalIssuer{
			{Name: DefaultWorkloadIssuer},
			{Name: DefaultGitHubIssuer, Kind: IssuerKindGitHub, Repository: DefaultGitHubRepository, Ref: DefaultGitHubRef},
		},
	}
}

// ParseScenario decodes a JSON scenario and validates it. Errors name the
// field path, e.g. `apps[0].federatedCredentials[2].issuer: empty`. Unknown
// fields are errors: a misspelt key would otherwise silently drop a rule.
func ParseScenario(data []byte) (*Scenario, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fmt.Errorf("fakeidp: scenario: %s: cannot use JSON %s as %s", pathAt(data, te.Offset), te.Value, te.Type)
		}
		return nil, fmt.Errorf("fakeidp: scenario: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("fakeidp: scenario: trailing data after the JSON object")
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// pathAt names the JSON value that ends at offset off, e.g.
// "tenants[1].id": encoding/json's UnmarshalTypeError.Field has no array
// indices, and a path without them does not find the bad entry.
func pathAt(data []byte, off int64) string {
	type frame struct {
		array bool
		idx   int
		key   string
	}
	var st []frame
	render := func() string {
		var b strings.Builder
		for i, f := range st {
			switch {
			case f.array:
				fmt.Fprintf(&b, "[%d]", f.idx)
			case i > 0:
				b.WriteString("." + f.key)
			default:
				b.WriteString(f.key)
			}
		}
		return b.String()
	}
	inObject := func() bool { return len(st) > 0 && !st[len(st)-1].array }
	dec := json.NewDecoder(bytes.NewReader(data))
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return render()
		}
		if expectKey {
			if k, ok := tok.(string); ok {
				st[len(st)-1].key = k
				expectKey = false
				continue
			}
			st = st[:len(st)-1] // '}'
			expectKey = inObject()
			continue
		}
		d, isDelim := tok.(json.Delim)
		if isDelim && d == ']' {
			st = st[:len(st)-1]
			expectKey = inObject()
			continue
		}
		if len(st) > 0 && st[len(st)-1].array {
			st[len(st)-1].idx++
		}
		if dec.InputOffset() >= off {
			return render()
		}
		if isDelim {
			st = append(st, frame{array: d == '[', idx: -1})
			expectKey = d == '{'
			continue
		}
		expectKey = inObject()
	}
}

// ValidationError is what Validate returns: every problem found, each naming
// its field path.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "fakeidp: scenario: " + strings.Join(e.Problems, "; ")
}

// Validate checks references and Entra's limits: unique non-empty IDs, apps
// and identities in existing tenants, at most 20 federated credentials per
// app (Entra's limit), federated credentials with issuer, subject and one or
// more audiences, consented roles defined by the app, user-assigned
// identities with a resource ID. It reports every problem, not just the
// first.
func (s *Scenario) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if s == nil {
		return &ValidationError{Problems: []string{"nil scenario"}}
	}
	tenants := map[string]bool{}
	subs := map[string]bool{}
	for i, t := range s.Tenants {
		switch {
		case t.ID == "":
			add("tenants[%d].id: empty", i)
		case tenants[t.ID]:
			add("tenants[%d].id: duplicate %q", i, t.ID)
		case reservedTenant(t.ID) || strings.ContainsAny(t.ID, "/?#% "):
			add("tenants[%d].id: %q cannot be a tenant ID", i, t.ID)
		}
		tenants[t.ID] = true
		if t.GeneratedDevices < 0 || t.GeneratedDevices > maxGeneratedDevices {
			add("tenants[%d].generatedDevices: must be 0 to %d", i, maxGeneratedDevices)
		}
		for j, d := range t.Devices {
			if d.ID == "" {
				add("tenants[%d].devices[%d].id: empty", i, j)
			}
		}
		for j, sub := range t.Subscriptions {
			path := fmt.Sprintf("tenants[%d].subscriptions[%d]", i, j)
			id := strings.ToLower(sub.ID)
			switch {
			case !isGUID(sub.ID):
				add("%s.subscriptionId: %q is not a GUID (ARM's subscription IDs are)", path, sub.ID)
			case subs[id]:
				add("%s.subscriptionId: duplicate %q (a subscription belongs to one tenant)", path, sub.ID)
			}
			subs[id] = true
			groups := map[string]bool{}
			for k, g := range sub.ResourceGroups {
				name := strings.ToLower(g.Name)
				switch {
				case g.Name == "" || strings.ContainsAny(g.Name, "/?#% "):
					add("%s.resourceGroups[%d].name: %q is not a resource group name", path, k, g.Name)
				case groups[name]:
					add("%s.resourceGroups[%d].name: duplicate %q (names are case-insensitive)", path, k, g.Name)
				}
				groups[name] = true
			}
		}
	}
	apps := map[string]*App{}
	for i := range s.Apps {
		a := &s.Apps[i]
		switch {
		case a.ClientID == "":
			add("apps[%d].clientId: empty", i)
		case apps[a.ClientID] != nil:
			add("apps[%d].clientId: duplicate %q", i, a.ClientID)
		}
		apps[a.ClientID] = a
		if !tenants[a.HomeTenant] {
			add("apps[%d].homeTenant: unknown tenant %q", i, a.HomeTenant)
		}
		roles := map[string]bool{}
		for j, r := range a.AppRoles {
			if r.Value == "" {
				add("apps[%d].appRoles[%d].value: empty", i, j)
			}
			if r.ID == "" {
				add("apps[%d].appRoles[%d].id: empty", i, j)
			}
			roles[r.Value] = true
		}
		if n := len(a.FederatedCredentials); n > maxFederatedCredentials {
			add("apps[%d].federatedCredentials: %d credentials, Entra allows at most %d", i, n, maxFederatedCredentials)
		}
		names := map[string]bool{}
		for j, f := range a.FederatedCredentials {
			path := fmt.Sprintf("apps[%d].federatedCredentials[%d]", i, j)
			if f.Name == "" {
				add("%s.name: empty", path)
			} else if names[f.Name] {
				add("%s.name: duplicate %q", path, f.Name)
			}
			names[f.Name] = true
			if f.Issuer == "" {
				add("%s.issuer: empty", path)
			}
			if f.Subject == "" {
				add("%s.subject: empty", path)
			}
			if len(f.Audiences) == 0 {
				add("%s.audiences: empty", path)
			}
			for k, aud := range f.Audiences {
				if aud == "" {
					add("%s.audiences[%d]: empty", path, k)
				}
			}
		}
		for j, r := range a.RequiredRoles {
			if !roles[r] {
				add("apps[%d].requiredRoles[%d]: %q is not one of the app's appRoles", i, j, r)
			}
		}
	}
	for i, c := range s.Consents {
		if !tenants[c.Tenant] {
			add("consents[%d].tenant: unknown tenant %q", i, c.Tenant)
		}
		a := apps[c.ClientID]
		if a == nil || c.ClientID == "" {
			add("consents[%d].clientId: unknown app %q", i, c.ClientID)
			continue
		}
		if !a.MultiTenant && c.Tenant != a.HomeTenant && tenants[c.Tenant] {
			add("consents[%d].tenant: app %q is single-tenant; it cannot be consented outside its home tenant", i, c.ClientID)
		}
		for j, r := range c.Roles {
			if !appHasRole(a, r) {
				add("consents[%d].roles[%d]: %q is not one of the app's appRoles", i, j, r)
			}
		}
	}
	ids := map[string]bool{}
	systems := 0
	for i, m := range s.ManagedIdentities {
		path := fmt.Sprintf("managedIdentities[%d]", i)
		switch m.Kind {
		case KindSystem:
			systems++
			if systems == 2 {
				add("%s.kind: a second system-assigned identity (a resource has at most one)", path)
			}
		case KindUser:
			if m.ResourceID == "" {
				add("%s.resourceId: empty (user-assigned identities are ARM resources)", path)
			}
		default:
			add("%s.kind: %q is neither %q nor %q", path, m.Kind, KindSystem, KindUser)
		}
		if m.ObjectID == "" {
			add("%s.objectId: empty", path)
		} else if ids["o"+strings.ToLower(m.ObjectID)] {
			add("%s.objectId: duplicate %q", path, m.ObjectID)
		}
		ids["o"+strings.ToLower(m.ObjectID)] = true
		if m.ClientID == "" {
			add("%s.clientId: empty", path)
		} else if ids["c"+strings.ToLower(m.ClientID)] {
			add("%s.clientId: duplicate %q", path, m.ClientID)
		}
		ids["c"+strings.ToLower(m.ClientID)] = true
		if !tenants[m.HomeTenant] {
			add("%s.homeTenant: unknown tenant %q", path, m.HomeTenant)
		}
	}
	for i, r := range s.Resources {
		path := fmt.Sprintf("resources[%d]", i)
		if len(r.IdentifierURIs) == 0 && r.AppID == "" {
			add("%s: neither appId nor identifierUris (a resource needs a name to be requested by)", path)
		}
		for j, u := range r.IdentifierURIs {
			if u == "" || strings.ContainsAny(u, " \t\r\n") {
				add("%s.identifierUris[%d]: %q is not an identifier URI", path, j, u)
			}
		}
		if v := r.AccessTokenVersion; v < 0 || v > 2 {
			add("%s.accessTokenVersion: %d (want 1 or 2; 0 means 1)", path, v)
		}
	}
	for i, a := range s.Apps {
		for j, u := range a.IdentifierURIs {
			if u == "" || strings.ContainsAny(u, " \t\r\n") {
				add("apps[%d].identifierUris[%d]: %q is not an identifier URI", i, j, u)
			}
		}
		for j, u := range a.RedirectURIs {
			if p, err := url.Parse(u); err != nil || !p.IsAbs() || p.Host == "" {
				add("apps[%d].redirectUris[%d]: %q is not an absolute URL", i, j, u)
			}
		}
	}
	issuers := map[string]bool{}
	for i, is := range s.Issuers {
		switch {
		case is.Name == "":
			add("issuers[%d].name: empty", i)
		case issuers[is.Name]:
			add("issuers[%d].name: duplicate %q", i, is.Name)
		case strings.ContainsAny(is.Name, "/?#% "):
			add("issuers[%d].name: %q must be one URL path segment", i, is.Name)
		}
		issuers[is.Name] = true
		validateIssuerKind(is, fmt.Sprintf("issuers[%d]", i), add)
	}
	s.Generate.validate(s, add)
	s.validateCloud(add)
	if len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	return nil
}

func appHasRole(a *App, value string) bool {
	for _, r := range a.AppRoles {
		if r.Value == value {
			return true
		}
	}
	return false
}

// isGUID reports whether v has the 8-4-4-4-12 hex form of a GUID.
func isGUID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i, c := range v {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// reservedTenant reports the authority segments that are not tenants.
func reservedTenant(t string) bool {
	switch strings.ToLower(t) {
	case "common", "organizations", "consumers", "issuers":
		return true
	}
	return false
}

// clone returns a deep copy, so the server never shares slices with callers.
func (s *Scenario) clone() *Scenario {
	// Everything but the devices, which can be hundreds of thousands that
	// this server never reads: they are shared, not copied through JSON.
	shallow := *s
	shallow.Tenants = make([]Tenant, len(s.Tenants))
	for i, t := range s.Tenants {
		t.Devices = nil
		shallow.Tenants[i] = t
	}
	b, err := json.Marshal(&shallow)
	if err != nil {
		panic("fakeidp: scenario does not marshal: " + err.Error())
	}
	var c Scenario
	if err := json.Unmarshal(b, &c); err != nil {
		panic("fakeidp: scenario does not unmarshal: " + err.Error())
	}
	for i := range c.Tenants {
		c.Tenants[i].Devices = s.Tenants[i].Devices
	}
	return &c
}
