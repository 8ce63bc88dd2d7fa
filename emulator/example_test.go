package emulator_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
)

// The whole flow against the emulator, started with one call: an assertion
// from the fake App Service managed identity, traded for a Graph token in the
// consented tenant, which lists that tenant's devices.
func Example() {
	emu, err := emulator.Start(nil) // default scenario, App Service mode, loopback, free ports
	if err != nil {
		log.Fatal(err)
	}
	defer emu.Close()

	ctx := context.Background()
	tn := emu.Tenancy()
	src, err := assertion.AppService(&assertion.AppServiceOptions{
		Endpoint:       emu.AppServiceEndpoint(),
		IdentityHeader: emu.IdentityHeader(),
	})
	if err != nil {
		log.Fatal(err)
	}
	cred, err := federated.NewCredential(tn.Home.ID, tn.App.ClientID, src, &federated.Options{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: emu.AuthorityHost()},
			Transport: emu.Client(), // trusts the emulator's CAs
		},
		AdditionallyAllowedTenants: []string{"*"},
	})
	if err != nil {
		log.Fatal(err)
	}
	consented := tn.Remotes[0] // consented tenants come first
	graph, err := graphlite.New(cred.ForTenant(consented.ID), &graphlite.Options{
		BaseURL:       emu.GraphURL(),
		ClientOptions: azcore.ClientOptions{Transport: emu.Client()},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(consented.DisplayName)
	for d, err := range graph.Devices(ctx, nil) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("  ", d.DisplayName, d.OperatingSystem)
	}
	// Output:
	// Fabrikam (consented)
	//    FAB-DESK-001 Windows
	//    FAB-DESK-002 Windows
	//    fab-iphone-07 iOS
	//    FAB-KIOSK-01 Windows
}

// A child process, in any language, finds the emulator through the
// environment block, as it finds the real services on an Azure host.
func ExampleEnv_Merge() {
	emu, err := emulator.Start(&emulator.Options{Mode: emulator.ModeWorkload})
	if err != nil {
		log.Fatal(err)
	}
	defer emu.Close()

	cmd := exec.Command("sh", "-c", `test -s "$AZURE_FEDERATED_TOKEN_FILE" && echo "$AZURE_TENANT_ID"`)
	cmd.Env = emu.Env().Merge(os.Environ())
	out, err := cmd.Output()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(out))
	for _, v := range emu.Env() {
		fmt.Println(v.Name)
	}
	// Output:
	// 11111111-1111-1111-1111-111111111111
	// AZURE_FEDERATED_TOKEN_FILE
	// AZURE_AUTHORITY_HOST
	// AZURE_TENANT_ID
	// AZURE_CLIENT_ID
	// AZURE_ADDITIONALLY_ALLOWED_TENANTS
	// SSL_CERT_FILE
	// NODE_EXTRA_CA_CERTS
	// REQUESTS_CA_BUNDLE
	// CURL_CA_BUNDLE
	// TENANTBRIDGE_GRAPH_URL
	// TENANTBRIDGE_ARM_URL
	// FAKEMSI_TENANTS
	// FAKEMSI_GRAPH_URL
	// FAKEMSI_ARM_URL
}

// TenancyOf reads a scenario the way the environment block does, without
// starting anything: `fakemsi env` prints it.
func ExampleTenancyOf() {
	tn, err := emulator.TenancyOf(nil, "") // the default scenario, its multi-tenant app
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("AZURE_CLIENT_ID", tn.App.ClientID)
	fmt.Println("AZURE_TENANT_ID", tn.Home.ID, tn.Home.DisplayName)
	fmt.Println("FAKEMSI_TENANTS", strings.Join(tn.RemoteIDs(), ","))
	for _, r := range tn.Remotes {
		fmt.Println(r.DisplayName, r.Consented, r.Roles)
	}
	// Output:
	// AZURE_CLIENT_ID aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa
	// AZURE_TENANT_ID 11111111-1111-1111-1111-111111111111 Contoso (home)
	// FAKEMSI_TENANTS 22222222-2222-2222-2222-222222222222,33333333-3333-3333-3333-333333333333
	// Fabrikam (consented) true [Device.Read.All]
	// Northwind (not consented) false []
}

// ParseFault reads the specs of `fakemsi --fault` for every endpoint;
// AddFault gives each fault to the server its endpoint names.
func ExampleParseFault() {
	emu, err := emulator.Start(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer emu.Close()

	for _, spec := range []string{"token:429:retry-after=2:count=3", "graph:claims:count=1"} {
		f, err := emulator.ParseFault(spec)
		if err != nil {
			log.Fatal(err)
		}
		emu.AddFault(f) // the first to fakeidp, the second to the fake Graph
		fmt.Printf("%s: status %d, Retry-After %s, the next %d requests\n", f.Endpoint, f.Status, f.RetryAfter, f.Count)
	}
	_, err = emulator.ParseFault("token:colour=red")
	fmt.Println(err)
	// Output:
	// token: status 429, Retry-After 2s, the next 3 requests
	// graph: status 401, Retry-After 0s, the next 1 requests
	// emulator: fault "token:colour=red": "colour=red": unknown item "colour" (items: a status such as 503, claims, reset, latency=D, retry-after=S, count=N, body=truncated|malformed|oversize, path=TEXT)
}
