package graphlite_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tenantbridge/tenantbridge/fanout"
	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// exampleGraph starts a fake Graph with the scenario devices in tenant A and
// returns options that point a client at it. In production, opts is nil (or
// names a national cloud) and cred is a federated.Credential.
func exampleGraph() (*graphtest.Server, *graphlite.Options, func()) {
	keys := jwksServer()
	srv, err := graphtest.New(&graphtest.Options{
		KeysURL:   keys.URL + "/common/discovery/v2.0/keys",
		Transport: keys.Client(),
		Devices:   map[string][]map[string]any{tenantA: scenarioDevices()},
	})
	if err != nil {
		panic(err)
	}
	opts := &graphlite.Options{
		BaseURL:       srv.URL() + "/v1.0",
		ClientOptions: azcore.ClientOptions{Transport: srv.Client()},
	}
	return srv, opts, func() { srv.Close(); keys.Close() }
}

func ExampleNew() {
	_, opts, done := exampleGraph()
	defer done()
	cred := newCredential(tenantA, "Device.Read.All") // any azcore.TokenCredential

	client, err := graphlite.New(cred, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := client.CountDevices(context.Background(), "")
	fmt.Println(n, err)
	// Output: 4 <nil>
}

func ExampleClient_Get() {
	_, opts, done := exampleGraph()
	defer done()
	client, _ := graphlite.New(newCredential(tenantA, "Device.Read.All"), opts)

	var d graphlite.Device
	err := client.Get(context.Background(), "/devices/d-1", url.Values{"$select": {"displayName,isCompliant"}}, &d)
	fmt.Println(d.DisplayName, *d.IsCompliant, d.OperatingSystem == "", err)
	// Output: Alice's Laptop true true <nil>
}

func ExampleList() {
	_, opts, done := exampleGraph()
	defer done()
	client, _ := graphlite.New(newCredential(tenantA, "Device.Read.All"), opts)

	// Any element type works; two per page shows the paging.
	type named struct {
		DisplayName string `json:"displayName"`
	}
	q := url.Values{"$select": {"displayName"}, "$top": {"2"}}
	for d, err := range graphlite.List[named](context.Background(), client, "/devices", q) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(d.DisplayName)
	}
	// Output:
	// Alice's Laptop
	// alice phone
	// Bob's Laptop
	// Build agent
}

func ExampleClient_Devices() {
	_, opts, done := exampleGraph()
	defer done()
	client, _ := graphlite.New(newCredential(tenantA, "Device.Read.All"), opts)

	devices := client.Devices(context.Background(), &graphlite.DevicesOptions{
		Select: []string{"displayName", "trustType"},
		Filter: "operatingSystem eq 'Windows'",
	})
	for d, err := range devices {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(d.DisplayName, d.TrustType)
	}
	// Output:
	// Alice's Laptop AzureAd
	// Bob's Laptop ServerAd
}

func ExampleClient_Batch() {
	_, opts, done := exampleGraph()
	defer done()
	client, _ := graphlite.New(newCredential(tenantA, "Device.Read.All"), opts)

	res, err := client.Batch(context.Background(), []graphlite.BatchRequest{
		{Path: "/devices/d-2", Query: url.Values{"$select": {"displayName"}}},
		{Path: "/devices/unknown"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res {
		var ge *graphlite.Error
		if errors.As(r.Err(), &ge) {
			fmt.Println(r.ID, r.Status, ge.Code)
			continue
		}
		var d graphlite.Device
		err := json.Unmarshal(r.Body, &d)
		fmt.Println(r.ID, r.Status, d.DisplayName, err)
	}
	// Output:
	// 1 200 alice phone <nil>
	// 2 404 Request_ResourceNotFound
}

// Example_multiTenant lists the devices of several tenants with one client
// per tenant, run side by side by [fanout.Run].
func Example_multiTenant() {
	_, opts, done := exampleGraph()
	defer done()
	// cred stands in for a federated.Credential: one app, consented
	// Device.Read.All in tenant A only.
	cred := &multiTenant{roles: map[string][]string{tenantA: {"Device.Read.All"}}}

	results := fanout.Run(context.Background(), []string{tenantA, tenantB}, nil,
		func(ctx context.Context, tenant string) (int, error) {
			client, err := graphlite.New(cred.ForTenant(tenant), opts)
			if err != nil {
				return 0, err
			}
			n := 0
			for _, err := range client.Devices(ctx, &graphlite.DevicesOptions{Select: []string{"id"}}) {
				if err != nil {
					return n, err
				}
				n++
			}
			return n, nil
		})
	for _, r := range results {
		var ge *graphlite.Error
		if errors.As(r.Err, &ge) {
			fmt.Printf("%s: %d %s: %s\n", r.Tenant, ge.StatusCode, ge.Code, ge.Hint)
			continue
		}
		fmt.Printf("%s: %d devices\n", r.Tenant, r.Value)
	}
	// Output:
	// aaaaaaaa-0000-4000-8000-00000000000a: 4 devices
	// bbbbbbbb-0000-4000-8000-00000000000b: 403 Authorization_RequestDenied: the app needs Device.Read.All (application) with admin consent in tenant bbbbbbbb-0000-4000-8000-00000000000b; the token's roles: none
}
