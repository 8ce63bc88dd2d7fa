package assertion

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

// EnvManagedIdentityClientID is the environment variable through which
// [FromEnvironment] selects a user-assigned managed identity by client ID.
const EnvManagedIdentityClientID = "AZURE_MANAGED_IDENTITY_CLIENT_ID"

// FromEnvironment picks the [Source] for the platform the program runs on, in
// the order the Azure SDKs (azidentity through MSAL's managed-identity
// detection) check it, with the workload file and GitHub Actions before the
// IMDS fallback:
//
//  1. App Service and Functions: IDENTITY_ENDPOINT and IDENTITY_HEADER are
//     set ([AppService]). With IDENTITY_SERVER_THUMBPRINT as well it is
//     Service Fabric, whose protocol is not supported: an error says so.
//  2. Functions' older pair: MSI_ENDPOINT and MSI_SECRET ([AppService]).
//  3. Azure Arc: IDENTITY_ENDPOINT and IMDS_ENDPOINT are set ([AzureArc]).
//  4. AKS workload identity: AZURE_FEDERATED_TOKEN_FILE is set ([WorkloadFile]).
//  5. GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL and
//     ACTIONS_ID_TOKEN_REQUEST_TOKEN are set ([GitHubActions]).
//  6. Otherwise the instance metadata service ([IMDS]), at
//     AZURE_POD_IDENTITY_AUTHORITY_HOST when that is set.
//
// The returned source's String names the choice and its endpoint or file.
// Every source asks for the token-exchange audience of the cloud
// AZURE_AUTHORITY_HOST names ([TokenExchangeAudience]): a US Government or
// China authority host gets its cloud's audience with no other setting.
//
// App Service and IMDS sources ask for the system-assigned identity unless
// AZURE_MANAGED_IDENTITY_CLIENT_ID ([EnvManagedIdentityClientID]) names a
// user-assigned one by client ID; Microsoft documents user-assigned identities
// as the supported kind for federated credentials, and App Service gives
// no variable of its own for them. On Azure Arc that variable is an error, as
// Arc has no user-assigned identities. FromEnvironment does not read
// AZURE_CLIENT_ID: azidentity's ManagedIdentityCredential does not read it
// either (only DefaultAzureCredential does), and in the federated flow that
// variable names the app registration whose token is wanted, not a managed
// identity; treating it as an identity selector would ask the platform for an
// identity that does not exist. To select an identity by object or resource
// ID, call [AppService] or [IMDS] with an ID option.
//
// Cloud Shell and Azure ML, which the Azure SDKs also detect, use other
// protocols and are not supported. Arc is detected from its variables only,
// not from the agent's files.
func FromEnvironment() (Source, error) {
	return FromEnvironmentWithOptions(nil)
}

// EnvironmentOptions configures [FromEnvironmentWithOptions]. The zero value
// (or nil) is [FromEnvironment].
type EnvironmentOptions struct {
	// Cloud is the cloud whose Entra receives the assertions, as the
	// credential's azcore.ClientOptions.Cloud says; its authority host picks
	// the token-exchange audience, over AZURE_AUTHORITY_HOST.
	Cloud cloud.Configuration
	// Resource, when set, is the audience asked for, over Cloud.
	Resource string
}

// FromEnvironmentWithOptions is [FromEnvironment] with the chosen source's
// audience taken from opts: what a credential configured in code for a
// national cloud (federated.Options.Cloud) passes, so that its assertions
// carry that cloud's audience without AZURE_AUTHORITY_HOST.
func FromEnvironmentWithOptions(opts *EnvironmentOptions) (Source, error) {
	var o EnvironmentOptions
	if opts != nil {
		o = *opts
	}
	var (
		src    Source
		reason string
		err    error
	)
	var id ManagedIDKind
	if v := os.Getenv(EnvManagedIdentityClientID); v != "" {
		id = ClientID(v)
	}
	set := func(k string) bool { return os.Getenv(k) != "" }
	switch {
	case set("IDENTITY_ENDPOINT") && set("IDENTITY_HEADER") && set("IDENTITY_SERVER_THUMBPRINT"):
		return nil, errors.New("assertion: FromEnvironment: IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT are set: this is Service Fabric, whose managed-identity protocol is not supported; use Func with a source of your own")
	case set("IDENTITY_ENDPOINT") && set("IDENTITY_HEADER"):
		reason = "IDENTITY_ENDPOINT and IDENTITY_HEADER are set"
		src, err = AppService(&AppServiceOptions{ID: id, Cloud: o.Cloud, Resource: o.Resource})
	case set("MSI_ENDPOINT") && set("MSI_SECRET"):
		reason = "MSI_ENDPOINT and MSI_SECRET are set"
		src, err = AppService(&AppServiceOptions{Endpoint: os.Getenv("MSI_ENDPOINT"), IdentityHeader: os.Getenv("MSI_SECRET"), ID: id, Cloud: o.Cloud, Resource: o.Resource})
	case set("IDENTITY_ENDPOINT") && set("IMDS_ENDPOINT"):
		reason = "IDENTITY_ENDPOINT and IMDS_ENDPOINT are set"
		if id != nil {
			return nil, fmt.Errorf("assertion: FromEnvironment: Azure Arc detected (%s) but %s names identity %s: %w", reason, EnvManagedIdentityClientID, id, ErrUserAssignedNotSupported)
		}
		src, err = AzureArc(&AzureArcOptions{Cloud: o.Cloud, Resource: o.Resource})
	case set("AZURE_FEDERATED_TOKEN_FILE"):
		// The projected token already belongs to the pod's service account;
		// there is no identity to select.
		reason = "AZURE_FEDERATED_TOKEN_FILE is set"
		src, err = WorkloadFile("")
	case set(EnvGitHubTokenRequestURL) && set(EnvGitHubTokenRequestToken):
		reason = EnvGitHubTokenRequestURL + " and " + EnvGitHubTokenRequestToken + " are set"
		src, err = GitHubActions(&GitHubActionsOptions{Cloud: o.Cloud, Resource: o.Resource})
	default:
		reason = "no App Service, Arc, workload identity or GitHub Actions variables are set"
		src, err = IMDS(&IMDSOptions{ID: id, Cloud: o.Cloud, Resource: o.Resource})
	}
	if err != nil {
		return nil, err
	}
	return &environmentSource{src: src, reason: reason}, nil
}

// environmentSource remembers why FromEnvironment chose src.
type environmentSource struct {
	src    Source
	reason string
}

func (e *environmentSource) Assertion(ctx context.Context) (Assertion, error) {
	return e.src.Assertion(ctx)
}

// String names the chosen source, its endpoint or file, and why; never a
// secret.
func (e *environmentSource) String() string {
	return "assertion.FromEnvironment: " + sourceName(e.src) + " (" + e.reason + ")"
}

// GoString matches String.
func (e *environmentSource) GoString() string { return e.String() }
