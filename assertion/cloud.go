package assertion

import (
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

// Authority hosts of the three Microsoft clouds, as AZURE_AUTHORITY_HOST and
// azcore's cloud.Configuration.ActiveDirectoryAuthorityHost spell them. The
// China cloud has two names for one service; both are recognised.
const (
	AuthorityHostAzurePublic       = "https://login.microsoftonline.com/"
	AuthorityHostAzureUSGovernment = "https://login.microsoftonline.us/"
	AuthorityHostAzureChina        = "https://login.partner.microsoftonline.cn/"
	// authorityHostAzureChinaLegacy is azcore's cloud.AzureChina value.
	authorityHostAzureChinaLegacy = "https://login.chinacloudapi.cn/"
)

// EnvAuthorityHost is the variable the Azure SDKs read for the authority host
// (azidentity, @azure/identity, azure-identity); the sources read it to pick
// the token-exchange audience of its cloud.
const EnvAuthorityHost = "AZURE_AUTHORITY_HOST"

// TokenExchangeAudience returns the audience Entra expects in an assertion
// for workload identity federation in the cloud whose authority host is given
// (a URL or a bare host name): [ResourceAzureUSGovernment] for
// login.microsoftonline.us, [ResourceAzureChina] for
// login.partner.microsoftonline.cn and login.chinacloudapi.cn, and
// [ResourceAzurePublic] for anything else, the public cloud's host and
// unknown hosts (an emulator on loopback) alike.
func TokenExchangeAudience(authorityHost string) string {
	h := strings.ToLower(strings.TrimSpace(authorityHost))
	if u, err := url.Parse(h); err == nil && u.Host != "" {
		h = u.Hostname()
	}
	h = strings.TrimSuffix(h, "/")
	switch h {
	case "login.microsoftonline.us":
		return ResourceAzureUSGovernment
	case "login.partner.microsoftonline.cn", "login.chinacloudapi.cn":
		return ResourceAzureChina
	}
	return ResourceAzurePublic
}

// TokenExchangeAudienceFor is [TokenExchangeAudience] of an azcore cloud
// configuration (cloud.AzurePublic, cloud.AzureGovernment, cloud.AzureChina,
// or a custom one).
func TokenExchangeAudienceFor(c cloud.Configuration) string {
	return TokenExchangeAudience(c.ActiveDirectoryAuthorityHost)
}

// audienceFor picks a source's audience: the Resource option when set, else
// the cloud of the Cloud option when it names an authority host, else the
// cloud of AZURE_AUTHORITY_HOST, else the public cloud. Reading
// AZURE_AUTHORITY_HOST is what makes a US Government or China host work
// without a setting of ours: federated.Credential and azidentity send the
// token request to that host, so the assertion must be for its audience.
func audienceFor(resource string, c cloud.Configuration) string {
	switch {
	case resource != "":
		return resource
	case c.ActiveDirectoryAuthorityHost != "":
		return TokenExchangeAudienceFor(c)
	}
	return TokenExchangeAudience(os.Getenv(EnvAuthorityHost))
}
