package conformance_test

import (
	"context"
	"errors"
	"log"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/conformance"
)

// mySource stands for an assertion source of your own, e.g. one that reads a
// CI system's OIDC token.
func mySource() assertion.Source {
	return assertion.Func(func(ctx context.Context) (assertion.Assertion, error) {
		return assertion.Assertion{}, ctx.Err()
	})
}

// The harness needs a *testing.T, so these examples are compiled but not run:
// put the function bodies in a Test function of your own package.
func ExampleTestSource() {
	_ = func(t *testing.T) {
		conformance.TestSource(t, func(t *testing.T) assertion.Source {
			return mySource() // a fresh instance for every subtest
		}, &conformance.SourceOptions{Audience: assertion.ResourceAzurePublic})
	}
}

func ExampleTestCredential() {
	var newCred func(t *testing.T) azcore.TokenCredential // e.g. federated.NewCredential against fakeidp
	var upstreamTokenRequests func() int                  // e.g. counting fakeidp.Server.Requests()
	_ = func(t *testing.T) {
		conformance.TestCredential(t, newCred, &conformance.CredentialOptions{
			Tenants:       []string{"22222222-2222-2222-2222-222222222222"},
			ExpectCaching: true,
			Requests:      upstreamTokenRequests,
		})
	}
}

// CheckSource runs the checks outside go test, e.g. in a program on the
// host that is about to rely on the source: nil means every check passed,
// and a skipped check (an issuer whose keys could not be fetched) is told
// apart from a failed one.
func ExampleCheckSource() {
	err := conformance.CheckSource(context.Background(), func() (assertion.Source, error) {
		return assertion.FromEnvironment()
	}, &conformance.SourceOptions{Audience: assertion.ResourceAzurePublic})
	switch {
	case err == nil:
		log.Print("the source keeps every promise")
	case conformance.Failed(err):
		log.Fatal(err) // one *conformance.CheckError per check that did not pass
	case errors.Is(err, conformance.ErrSkipped):
		log.Printf("passed what could be checked: %v", err)
	}
}
