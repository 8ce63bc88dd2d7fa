package graphlite

import (
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

// BaseURLForCloud is the Graph v1.0 endpoint of the cloud whose Entra
// authority an azcore cloud configuration names: [USGovernmentCloud] for
// login.microsoftonline.us (cloud.AzureGovernment), [ChinaCloud] for
// login.chinacloudapi.cn (cloud.AzureChina) and
// login.partner.microsoftonline.cn, and [DefaultBaseURL] for the public
// cloud and any other host. New uses it when BaseURL is empty, so a client
// whose ClientOptions.Cloud is a national cloud's calls that cloud's Graph
// with that cloud's scope.
func BaseURLForCloud(c cloud.Configuration) string {
	h := strings.ToLower(c.ActiveDirectoryAuthorityHost)
	if u, err := url.Parse(h); err == nil && u.Host != "" {
		h = u.Hostname()
	}
	switch strings.TrimSuffix(h, "/") {
	case "login.microsoftonline.us":
		return USGovernmentCloud + "/v1.0"
	case "login.chinacloudapi.cn", "login.partner.microsoftonline.cn":
		return ChinaCloud + "/v1.0"
	}
	return DefaultBaseURL
}
