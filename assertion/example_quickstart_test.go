package assertion_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
)

// A managed-identity endpoint's refusal is a *ResponseError: here the
// emulator's App Service endpoint is asked for a user-assigned identity that
// is not assigned to the app, the mistake behind most 400s on Azure.
func ExampleResponseError() {
	emu, err := emulator.Start(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emu.Close()

	src, err := assertion.AppService(&assertion.AppServiceOptions{
		Endpoint:       emu.AppServiceEndpoint(),
		IdentityHeader: emu.IdentityHeader(),
		ClientID:       "99999999-0000-0000-0000-000000000000", // not assigned to this app
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = src.Assertion(context.Background())
	var miErr *assertion.ResponseError
	if errors.As(err, &miErr) {
		fmt.Println(miErr.Source, miErr.StatusCode, miErr.Identity)
	}
	// Output: AppService 400 client_id=99999999-0000-0000-0000-000000000000
}
