package armtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/tenantbridge/tenantbridge/armtest"
	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// A fake ARM that trusts a fake Entra, listing the subscriptions of the
// tenant of a managed identity's ARM token, as `az login --identity` does.
func ExampleNew() {
	idp, err := fakeidp.New(nil, &fakeidp.Options{NoListener: true, SigningKeyBits: 1024})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer idp.Close()
	srv, err := armtest.New(&armtest.Options{
		KeysURL:   idp.KeysURL(),
		Transport: idp.Client(),
		Subscriptions: []armtest.Subscription{
			{ID: fakeidp.DefaultHomeSubscriptionID, TenantID: fakeidp.DefaultHomeTenantID, DisplayName: "Contoso production"},
			{ID: fakeidp.DefaultConsentedSubscriptionID, TenantID: fakeidp.DefaultConsentedTenantID, DisplayName: "Fabrikam production"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	// A managed-identity token for ARM: a v1 token of the home tenant.
	token, _, err := idp.IssueManagedIdentityToken(idp.Scenario().ManagedIdentities[0], "https://management.core.windows.net/")
	if err != nil {
		fmt.Println(err)
		return
	}
	req, _ := http.NewRequest("GET", srv.URL()+"/subscriptions?api-version=2022-12-01", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var page struct {
		Value []struct {
			SubscriptionID string `json:"subscriptionId"`
			DisplayName    string `json:"displayName"`
		} `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode)
	for _, s := range page.Value {
		fmt.Println(s.SubscriptionID, s.DisplayName)
	}
	// Output:
	// 200
	// 44444444-4444-4444-4444-444444444444 Contoso production
}

// ParseFault reads fakemsi's --fault syntax for the fake ARM's endpoint.
func ExampleParseFault() {
	f, err := armtest.ParseFault("arm:429:retry-after=2:count=1")
	fmt.Println(f.Status, f.RetryAfter, f.Count, err)
	_, err = armtest.ParseFault("graph:503")
	fmt.Println(err != nil)
	// Output:
	// 429 2s 1 <nil>
	// true
}
