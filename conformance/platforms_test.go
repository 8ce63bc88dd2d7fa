package conformance

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// The harness on the GitHub Actions, Azure Arc and sovereign-cloud sources,
// each against fakeidp's endpoint for it.

func TestSourceGitHubActionsAgainstFakeIDP(t *testing.T) {
	t.Setenv(assertion.EnvAuthorityHost, "")
	idp := newIDP(t, nil)
	TestSource(t, func(t *testing.T) assertion.Source {
		src, err := assertion.GitHubActions(&assertion.GitHubActionsOptions{
			RequestURL:   idp.GitHubTokenRequestURL(fakeidp.DefaultGitHubIssuer),
			RequestToken: idp.GitHubRequestToken(),
			Transport:    idp.Client(),
		})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}, &SourceOptions{Audience: fakeidp.TokenExchangeAudience})
}

func TestSourceAzureArcAgainstFakeIDP(t *testing.T) {
	t.Setenv(assertion.EnvAuthorityHost, "")
	dir := t.TempDir()
	idp := newIDP(t, &fakeidp.Options{ArcKeyDirectory: dir})
	TestSource(t, func(t *testing.T) assertion.Source {
		src, err := assertion.AzureArc(&assertion.AzureArcOptions{Endpoint: idp.ArcEndpoint(), KeyDirectory: dir, Transport: idp.Client()})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}, &SourceOptions{Audience: fakeidp.TokenExchangeAudience})
}

func TestSourceUSGovernmentAgainstFakeIDP(t *testing.T) {
	t.Setenv(assertion.EnvAuthorityHost, "")
	sc, err := fakeidp.DefaultScenarioIn(fakeidp.CloudUSGovernment)
	if err != nil {
		t.Fatal(err)
	}
	idp, err := fakeidp.New(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	TestSource(t, func(t *testing.T) assertion.Source {
		src, err := assertion.IMDS(&assertion.IMDSOptions{Endpoint: idp.IMDSEndpoint(), Cloud: cloud.AzureGovernment, Transport: idp.Client()})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}, &SourceOptions{Audience: assertion.ResourceAzureUSGovernment})
}
