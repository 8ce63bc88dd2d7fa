package fanout_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fanout"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
)

// Count the devices of every customer tenant at once, against the emulator:
// one credential (one assertion, a token per tenant), one Graph client per
// tenant, and a result for each tenant, failures included.
func Example_devicesPerTenant() {
	emu, err := emulator.Start(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emu.Close()
	tn := emu.Tenancy()
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
		AdditionallyAllowedTenants: tn.RemoteIDs(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	results := fanout.Run(context.Background(), tn.RemoteIDs(), nil,
		func(ctx context.Context, tenant string) (int, error) {
			graph, err := graphlite.New(cred.ForTenant(tenant), &graphlite.Options{
				BaseURL:       emu.GraphURL(),
				ClientOptions: azcore.ClientOptions{Transport: emu.Client()},
			})
			if err != nil {
				return 0, err
			}
			return graph.CountDevices(ctx, "")
		})
	for _, r := range results {
		var authErr *federated.AuthError
		switch {
		case errors.As(r.Err, &authErr):
			fmt.Printf("%s: AADSTS%v\n", r.Tenant, authErr.ErrorCodes)
		case r.Err != nil:
			fmt.Printf("%s: %v\n", r.Tenant, r.Err)
		default:
			fmt.Printf("%s: %d devices\n", r.Tenant, r.Value)
		}
	}
	// Output:
	// 22222222-2222-2222-2222-222222222222: 4 devices
	// 33333333-3333-3333-3333-333333333333: AADSTS[700016]
}
