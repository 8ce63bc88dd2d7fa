package interop

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
)

// armClientOptions points an ARM SDK client at the emulator the way a user
// of a private cloud would: the cloud's Resource Manager endpoint is the
// fake ARM (FAKEMSI_ARM_URL), its audience stays ARM's, and the transport
// trusts the emulator's CAs.
func armClientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: emu.AuthorityHost() + "/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: emu.Env().Get("FAKEMSI_ARM_URL"), Audience: "https://management.core.windows.net/"},
			},
		},
		Transport: emu.Client(),
	}}
}

// TestARMSubscriptionsOnFederatedCredential lists subscriptions with the
// real armsubscriptions client on a federated.Credential: the consented
// tenant's subscription, and AADSTS700016 from the tenant that did not
// consent.
func TestARMSubscriptionsOnFederatedCredential(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := assertion.AppService(&assertion.AppServiceOptions{Endpoint: emu.AppServiceEndpoint(), IdentityHeader: emu.IdentityHeader()})
	if err != nil {
		t.Fatal(err)
	}
	list := func(tenant string) ([]*armsubscriptions.Subscription, error) {
		cred, err := federated.NewCredential(tenant, fakeidp.DefaultAppClientID, src, &federated.Options{ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: emu.AuthorityHost() + "/"},
			Transport: emu.Client(),
		}})
		if err != nil {
			t.Fatal(err)
		}
		client, err := armsubscriptions.NewClient(cred, armClientOptions())
		if err != nil {
			t.Fatal(err)
		}
		var subs []*armsubscriptions.Subscription
		pager := client.NewListPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return subs, err
			}
			subs = append(subs, page.Value...)
		}
		return subs, nil
	}

	subs, err := list(fakeidp.DefaultConsentedTenantID)
	if err != nil {
		t.Fatalf("listing the consented tenant's subscriptions: %v", err)
	}
	type sub struct{ ID, SubscriptionID, TenantID, DisplayName, State string }
	var got []sub
	for _, s := range subs {
		got = append(got, sub{deref(s.ID), deref(s.SubscriptionID), deref(s.TenantID), deref(s.DisplayName), string(deref(s.State))})
	}
	want := []sub{{"/subscriptions/" + fakeidp.DefaultConsentedSubscriptionID, fakeidp.DefaultConsentedSubscriptionID,
		fakeidp.DefaultConsentedTenantID, "Fabrikam production", "Enabled"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subscriptions (-want +got):\n%s", diff)
	}
	// The client talked to the fake ARM, with a token it accepted.
	arm := emu.ARM().Requests()
	if len(arm) == 0 || arm[len(arm)-1].Status != http.StatusOK || arm[len(arm)-1].Tenant != fakeidp.DefaultConsentedTenantID {
		t.Errorf("the fake ARM's last request: %+v", redact(arm))
	}

	_, err = list(fakeidp.DefaultUnconsentedTenantID)
	var ae *federated.AuthError
	if !errors.As(err, &ae) || !ae.HasCode(fakeidp.CodeAppNotFound) {
		t.Fatalf("the unconsented tenant: %v, want a *federated.AuthError with AADSTS700016", redact(err))
	}
	// Entra's multi-line error_description reads as one sentence in the
	// error: its first line, the IDs in their own fields.
	if !strings.HasPrefix(ae.Message, "AADSTS700016: ") || strings.Contains(ae.Message, "Trace ID") || ae.TraceID == "" || ae.CorrelationID == "" {
		t.Errorf("Message %q, trace ID %q, correlation ID %q", ae.Message, ae.TraceID, ae.CorrelationID)
	}
	// The hint's admin-consent URL is the emulator's working consent page.
	_, consentURL, ok := strings.Cut(ae.Hint, "Admin consent URL: ")
	if !ok {
		t.Fatalf("hint %q has no admin-consent URL", ae.Hint)
	}
	consentURL = strings.Fields(consentURL)[0]
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, consentURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := emu.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Device.Read.All") || !strings.Contains(string(page), "Northwind") {
		t.Errorf("GET %s: status %d, the page does not ask for Device.Read.All in Northwind", consentURL, resp.StatusCode)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
