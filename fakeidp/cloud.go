package fakeidp

import (
	"fmt"
	"slices"
)

// The clouds a scenario can be set in (Scenario.Cloud).
const (
	CloudPublic       = "public"
	CloudUSGovernment = "usgov"
	CloudChina        = "china"
)

// CloudProfile is what differs between Microsoft's clouds for workload
// identity federation: the audience Entra expects in an assertion, and the
// hosts of Entra (the authority, and so the issuer of managed-identity
// tokens) and of Microsoft Graph.
type CloudProfile struct {
	Name string
	// TokenExchangeAudience is the audience of assertions and of the
	// federated credentials that trust them.
	TokenExchangeAudience string
	// AuthorityHost is the real Entra authority (AZURE_AUTHORITY_HOST there).
	AuthorityHost string
	// IssuerHost is the host of the real managed-identity tokens' issuer,
	// https://{IssuerHost}/{tenant}/v2.0. The fake issues them under its own
	// loopback URL instead, with the same path.
	IssuerHost string
	// GraphHost is Microsoft Graph's endpoint in that cloud.
	GraphHost string
	// InstanceName is Entra's cloud_instance_name in discovery documents.
	InstanceName string
}

var clouds = []CloudProfile{
	{CloudPublic, "api://AzureADTokenExchange", "https://login.microsoftonline.com/", "login.microsoftonline.com", "https://graph.microsoft.com", "microsoftonline.com"},
	{CloudUSGovernment, "api://AzureADTokenExchangeUSGov", "https://login.microsoftonline.us/", "login.microsoftonline.us", "https://graph.microsoft.us", "microsoftonline.us"},
	{CloudChina, "api://AzureADTokenExchangeChina", "https://login.partner.microsoftonline.cn/", "login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn", "partner.microsoftonline.cn"},
}

// Clouds returns the profiles of the clouds a scenario can be set in, the
// public cloud first.
func Clouds() []CloudProfile { return slices.Clone(clouds) }

// Cloud returns the profile of a cloud by name; "" is the public cloud.
func Cloud(name string) (CloudProfile, bool) {
	if name == "" {
		name = CloudPublic
	}
	for _, c := range clouds {
		if c.Name == name {
			return c, true
		}
	}
	return CloudProfile{}, false
}

// Cloud is the profile of the cloud the server's scenario is set in.
func (s *Server) Cloud() CloudProfile {
	c, _ := Cloud(s.sc.Cloud)
	return c
}

// DefaultScenarioIn is [DefaultScenario] set in a cloud: its federated
// credentials trust assertions for that cloud's token-exchange audience, so
// an assertion asked for with the public audience fails with AADSTS700212,
// as it does in that cloud.
func DefaultScenarioIn(cloud string) (*Scenario, error) {
	c, ok := Cloud(cloud)
	if !ok {
		return nil, fmt.Errorf("fakeidp: unknown cloud %q (want %s)", cloud, cloudNames())
	}
	sc := DefaultScenario()
	sc.Cloud = c.Name
	for i := range sc.Apps {
		for j := range sc.Apps[i].FederatedCredentials {
			f := &sc.Apps[i].FederatedCredentials[j]
			for k, a := range f.Audiences {
				if a == TokenExchangeAudience {
					f.Audiences[k] = c.TokenExchangeAudience
				}
			}
		}
	}
	return sc, nil
}

func cloudNames() string {
	return CloudPublic + ", " + CloudUSGovernment + " or " + CloudChina
}

// validateCloud checks Scenario.Cloud.
func (s *Scenario) validateCloud(add func(format string, args ...any)) {
	if _, ok := Cloud(s.Cloud); !ok {
		add("cloud: %q is not %s", s.Cloud, cloudNames())
	}
}

// cloudResources are the resources a scenario set in a national cloud adds
// to [MicrosoftResources]: that cloud's token-exchange audience, so that its
// managed identities issue assertions for it. The public audience stays
// known there too: an assertion asked for with it is refused at the token
// endpoint with AADSTS700212, the failure a US Government setup that asks
// for the public audience meets.
func cloudResources(cloud string) []Resource {
	c, ok := Cloud(cloud)
	if !ok || c.Name == CloudPublic {
		return nil
	}
	return []Resource{{Name: "AzureADTokenExchange (" + c.Name + ")", IdentifierURIs: []string{c.TokenExchangeAudience}, AccessTokenVersion: 2}}
}
