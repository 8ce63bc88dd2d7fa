package assertion

import (
	"context"
	"os"
)

// EnvManagedIdentityClientID is the environment variable through which
// [FromEnvironment] selects a user-assigned managed identity by client ID.
const EnvManagedIdentityClientID = "AZURE_MANAGED_IDENTITY_CLIENT_ID"

// FromEnvironment picks the [Source] for the platform the program runs on, in
// the order the Azure SDKs detect it:
//
//  1. App Service and Functions: IDENTITY_ENDPOINT and IDENTITY_HEADER, or
//     MSI_ENDPOINT and MSI_SECRET, are set ([AppService]).
//  2. AKS workload identity: AZURE_FEDERATED_TOKEN_FILE is set ([WorkloadFile]).
//  3. Otherwise the instance metadata service ([IMDS]), at
//     AZURE_POD_IDENTITY_AUTHORITY_HOST when that is set.
//
// The returned source's String names the choice and its endpoint or file.
//
// App Service and IMDS sources ask for the system-assigned identity unless
// AZURE_MANAGED_IDENTITY_CLIENT_ID ([EnvManagedIdentityClientID]) names a
// user-assigned one by client ID; Microsoft documents user-assigned identities
// as the supported kind for federated credentials, and App Service gives
// no variable of its own for them. FromEnvironment does not read
// AZURE_CLIENT_ID: azidentity's ManagedIdentityCredential does not read it
// either (only DefaultAzureCredential does), and in the federated flow that
// variable names the app registration whose token is wanted, not a managed
// identity; treating it as an identity selector would ask the platform for an
// identity that does not exist. To select an identity by object or resource
// ID, call [AppService] or [IMDS] with ObjectID or ResourceID.
//
// Azure Arc, Service Fabric and Cloud Shell, which the Azure SDKs also
// detect, use other protocols and are not supported.
func FromEnvironment() (Source, error) {
	var (
		src    Source
		reason string
		err    error
	)
	clientID := os.Getenv(EnvManagedIdentityClientID)
	switch {
	case os.Getenv("IDENTITY_ENDPOINT") != "" && os.Getenv("IDENTITY_HEADER") != "":
		reason = "IDENTITY_ENDPOINT and IDENTITY_HEADER are set"
		src, err = AppService(&AppServiceOptions{ClientID: clientID})
	case os.Getenv("MSI_ENDPOINT") != "" && os.Getenv("MSI_SECRET") != "":
		reason = "MSI_ENDPOINT and MSI_SECRET are set"
		src, err = AppService(&AppServiceOptions{Endpoint: os.Getenv("MSI_ENDPOINT"), IdentityHeader: os.Getenv("MSI_SECRET"), ClientID: clientID})
	case os.Getenv("AZURE_FEDERATED_TOKEN_FILE") != "":
		// The projected token already belongs to the pod's service account;
		// there is no identity to select.
		reason = "AZURE_FEDERATED_TOKEN_FILE is set"
		src, err = WorkloadFile("")
	default:
		reason = "no App Service or workload identity variables are set"
		src, err = IMDS(&IMDSOptions{ClientID: clientID})
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
