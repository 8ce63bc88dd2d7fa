package fanout_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantbridge/tenantbridge/fanout"
)

func ExampleRun() {
	// The function would build a client bound to the tenant (for example
	// graphlite.New(cred.ForTenant(tenant), opts)) and call it.
	devices := map[string]int{"contoso": 12, "fabrikam": 3}
	results := fanout.Run(context.Background(), []string{"contoso", "fabrikam", "northwind"}, &fanout.Options{Parallelism: 8},
		func(ctx context.Context, tenant string) (int, error) {
			n, ok := devices[tenant]
			if !ok {
				return 0, errors.New("not consented")
			}
			return n, nil
		})
	for _, r := range results {
		if r.Err != nil {
			fmt.Printf("%s: %v\n", r.Tenant, r.Err)
			continue
		}
		fmt.Printf("%s: %d devices\n", r.Tenant, r.Value)
	}
	// Output:
	// contoso: 12 devices
	// fabrikam: 3 devices
	// northwind: not consented
}

func ExampleStream() {
	// Results arrive as tenants finish; a throttled tenant (an error
	// implementing fanout.ThrottleError, as *graphlite.Error does for a 429)
	// would be paused and run again without holding a slot.
	devices := map[string]int{"contoso": 12, "fabrikam": 3}
	total := 0
	for r := range fanout.Stream(context.Background(), []string{"contoso", "fabrikam", "northwind"}, &fanout.StreamOptions{Parallelism: 1},
		func(ctx context.Context, tenant string) (int, error) {
			n, ok := devices[tenant]
			if !ok {
				return 0, errors.New("not consented")
			}
			return n, nil
		}) {
		if r.Err != nil {
			fmt.Printf("%s: %v\n", r.Tenant, r.Err)
			continue
		}
		total += r.Value
	}
	fmt.Println("devices:", total)
	// Output:
	// northwind: not consented
	// devices: 15
}
