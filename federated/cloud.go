package federated

import (
	"fmt"
	"maps"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"

	"github.com/tenantbridge/tenantbridge/internal/endpointenv"
)

// EnvARMURL names the environment variable that [CloudFromEnvironment] reads
// for Azure Resource Manager's endpoint: `fakemsi exec` sets it to the fake
// ARM, so an ARM client built as below runs unchanged under the emulator.
const EnvARMURL = "TENANTBRIDGE_ARM_URL"

// CloudFromEnvironment returns the public cloud's configuration with the
// endpoints the environment overrides: ActiveDirectoryAuthorityHost from
// AZURE_AUTHORITY_HOST and the Resource Manager endpoint from
// [EnvARMURL] (its token audience stays the public cloud's). It is the Cloud
// of an Azure SDK client of ARM, which reads no variable itself:
//
//	cfg, err := federated.CloudFromEnvironment()
//	client, err := armsubscriptions.NewClient(cred, &arm.ClientOptions{
//		ClientOptions: azcore.ClientOptions{Cloud: cfg},
//	})
//
// A variable that is set must hold an https URL with a host (and nothing that
// hides where tokens go: no user, query or fragment); anything else is an
// error, never a silent fall back to the public cloud.
func CloudFromEnvironment() (cloud.Configuration, error) {
	cfg := cloud.AzurePublic
	cfg.Services = maps.Clone(cloud.AzurePublic.Services) // the package's map is shared
	host, err := endpointenv.Lookup(envAuthorityHost)
	if err != nil {
		return cloud.Configuration{}, fmt.Errorf("federated: %w", err)
	}
	if host != nil {
		cfg.ActiveDirectoryAuthorityHost = host.String() + "/"
	}
	arm, err := endpointenv.Lookup(EnvARMURL)
	if err != nil {
		return cloud.Configuration{}, fmt.Errorf("federated: %w", err)
	}
	if arm != nil {
		rm := cfg.Services[cloud.ResourceManager]
		rm.Endpoint = arm.String()
		cfg.Services[cloud.ResourceManager] = rm
	}
	return cfg, nil
}
