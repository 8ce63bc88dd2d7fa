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
