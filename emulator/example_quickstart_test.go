package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/federated"
)

// The env file is what `fakemsi serve --env-file` writes: KEY=VALUE lines,
// readable only by their owner, since they hold the identity header.
func ExampleEnv_WriteFile() {
	emu, err := emulator.Start(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emu.Close()
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	path := filepath.Join(dir, "fake.env")
	if err := emu.Env().WriteFile(path); err != nil {
		fmt.Println(err)
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	fmt.Println(fi.Mode().Perm(), len(lines) == len(emu.Env()), strings.HasPrefix(lines[0], "IDENTITY_ENDPOINT=http://127.0.0.1:"))
	// Output: -rw------- true true
}

// A fault makes the emulator fail on purpose: here the next token request is
// throttled, and with retries turned off the credential reports the 429.
func ExampleEmulator_AddFault() {
	emu, err := emulator.Start(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emu.Close()
	f, err := emulator.ParseFault("token:429:retry-after=1:count=1")
	if err != nil {
		fmt.Println(err)
		return
	}
	emu.AddFault(f)

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
			Retry:     policy.RetryOptions{MaxRetries: -1}, // no retries, to see the fault
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}
	for range 2 {
		_, err := cred.GetToken(context.Background(), opts)
		var authErr *federated.AuthError
		switch {
		case errors.As(err, &authErr):
			fmt.Println("status", authErr.StatusCode)
		case err != nil:
			fmt.Println(err)
		default:
			fmt.Println("token")
		}
	}
	// Output:
	// status 429
	// token
}
