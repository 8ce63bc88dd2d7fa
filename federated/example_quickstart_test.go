package federated_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
)

// The whole flow against the emulator, in process: the managed identity's
// assertion, a token in the consented customer tenant, its devices from
// Graph, and the answer of a tenant that never consented. On Azure the same
// code runs with federated.NewFromEnvironment(nil) and graphlite.New(…, nil).
func Example_emulator() {
	emu, err := emulator.Start(nil) // the default scenario
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emu.Close()
	tn := emu.Tenancy()
	consented, notConsented := tn.Remotes[0].ID, tn.Remotes[1].ID

	src, err := assertion.AppService(&assertion.AppServiceOptions{
		Endpoint: emu.AppServiceEndpoint(), IdentityHeader: emu.IdentityHeader(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	cred, err := federated.NewCredential(tn.Home.ID, tn.App.ClientID, src, &federated.Options{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: emu.AuthorityHost()},
			Transport: emu.Client(),
		},
		AdditionallyAllowedTenants: []string{consented, notConsented},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	graph, err := graphlite.New(cred.ForTenant(consented), &graphlite.Options{
		BaseURL:       emu.GraphURL(),
		ClientOptions: azcore.ClientOptions{Transport: emu.Client()},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for dev, err := range graph.Devices(context.Background(), nil) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(dev.DisplayName, dev.OperatingSystem)
	}

	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{
		Scopes:   []string{"https://graph.microsoft.com/.default"},
		TenantID: notConsented,
	})
	var authErr *federated.AuthError
	if errors.As(err, &authErr) {
		fmt.Println("not consented:", authErr.HasCode(700016))
	}
	// Output:
	// FAB-DESK-001 Windows
	// FAB-DESK-002 Windows
	// fab-iphone-07 iOS
	// FAB-KIOSK-01 Windows
	// not consented: true
}

// A tenant outside AdditionallyAllowedTenants is refused before any request
// leaves the process.
func ExampleErrTenantNotAllowed() {
	src := assertion.Static("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln")
	cred, err := federated.NewCredential("home-tenant", "app-client-id", src, &federated.Options{
		AdditionallyAllowedTenants: []string{"customer-tenant"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{
		Scopes:   []string{"https://graph.microsoft.com/.default"},
		TenantID: "someone-else",
	})
	fmt.Println(errors.Is(err, federated.ErrTenantNotAllowed))
	// Output: true
}
