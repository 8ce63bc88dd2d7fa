package graphlite

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// cloudTransport records the requests and answers 200 with an empty object.
type cloudTransport struct{ hosts []string }

func (c *cloudTransport) Do(req *http.Request) (*http.Response, error) {
	c.hosts = append(c.hosts, req.URL.Host)
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
}

type scopeCred struct{ scopes []string }

func (s *scopeCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	s.scopes = append(s.scopes, o.Scopes...)
	return azcore.AccessToken{Token: "t"}, nil
}

// TestCloudPicksTheGraphHost: with no BaseURL, the cloud of
// ClientOptions.Cloud decides the Graph host and the token scope.
func TestCloudPicksTheGraphHost(t *testing.T) {
	cases := []struct {
		name      string
		cloud     cloud.Configuration
		host      string
		wantScope string
	}{
		{"public", cloud.AzurePublic, "graph.microsoft.com", "https://graph.microsoft.com/.default"},
		{"none", cloud.Configuration{}, "graph.microsoft.com", "https://graph.microsoft.com/.default"},
		{"US Government", cloud.AzureGovernment, "graph.microsoft.us", "https://graph.microsoft.us/.default"},
		{"China (azcore)", cloud.AzureChina, "microsoftgraph.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn/.default"},
		{"China (partner host)", cloud.Configuration{ActiveDirectoryAuthorityHost: "https://login.partner.microsoftonline.cn/"}, "microsoftgraph.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn/.default"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, cred := &cloudTransport{}, &scopeCred{}
			c, err := New(cred, &Options{ClientOptions: azcore.ClientOptions{Cloud: tc.cloud, Transport: tr}})
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			if err := c.Get(context.Background(), "organization", nil, &v); err != nil {
				t.Fatal(err)
			}
			if len(tr.hosts) != 1 || tr.hosts[0] != tc.host {
				t.Errorf("requests went to %v, want %s", tr.hosts, tc.host)
			}
			if len(cred.scopes) == 0 || cred.scopes[0] != tc.wantScope {
				t.Errorf("scopes %v, want %s", cred.scopes, tc.wantScope)
			}
		})
	}
}
