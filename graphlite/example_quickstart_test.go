package graphlite_test

import (
	"context"
	"fmt"

	"github.com/tenantbridge/tenantbridge/graphlite"
)

// CountDevices asks Graph for /devices/$count, with the ConsistencyLevel
// header that advanced queries need; a filter counts a subset.
func ExampleClient_CountDevices() {
	_, opts, done := exampleGraph()
	defer done()
	client, err := graphlite.New(newCredential(tenantA, "Device.Read.All"), opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	all, err := client.CountDevices(context.Background(), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	windows, err := client.CountDevices(context.Background(), "operatingSystem eq 'Windows'")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(all, "devices,", windows, "on Windows")
	// Output: 4 devices, 2 on Windows
}
