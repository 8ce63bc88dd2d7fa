package interop

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
)

// TestCloudFromEnvironmentWithARMClient: with the block's AZURE_AUTHORITY_HOST
// and TENANTBRIDGE_ARM_URL, federated.CloudFromEnvironment is all the real
// armsubscriptions client needs to reach the fake ARM, as code written for
// Azure would configure it.
func TestCloudFromEnvironmentWithARMClient(t *testing.T) {
	for _, name := range []string{"AZURE_AUTHORITY_HOST", federated.EnvARMURL} {
		t.Setenv(name, emu.Env().Get(name))
	}
	cfg, err := federated.CloudFromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	src, err := assertion.AppService(&assertion.AppServiceOptions{Endpoint: emu.AppServiceEndpoint(), IdentityHeader: emu.IdentityHeader()})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := federated.NewCredential(fakeidp.DefaultConsentedTenantID, fakeidp.DefaultAppClientID, src,
		&federated.Options{ClientOptions: azcore.ClientOptions{Cloud: cfg, Transport: emu.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := armsubscriptions.NewClient(cred, &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Cloud: cfg, Transport: emu.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	page, err := client.NewListPager(nil).NextPage(ctx)
	if err != nil {
		t.Fatalf("listing subscriptions: %v", err)
	}
	if len(page.Value) == 0 || page.Value[0].TenantID == nil || *page.Value[0].TenantID != fakeidp.DefaultConsentedTenantID {
		t.Errorf("subscriptions %v, want the consented tenant's", page.Value)
	}
}
