package assertion_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tenantbridge/tenantbridge/assertion"
)

func ExampleStatic() {
	src := assertion.Static("eyJ...a JWT from elsewhere")
	a, err := src.Assertion(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(a.Token), a.ExpiresOn.IsZero(), src)
	// Output: 26 true assertion.Static
}

func ExampleFunc() {
	// A source this package does not ship, such as a CI system's OIDC token.
	src := assertion.Func(func(ctx context.Context) (assertion.Assertion, error) {
		return assertion.Assertion{Token: "eyJ...", ExpiresOn: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}, nil
	})
	a, _ := src.Assertion(context.Background())
	fmt.Println(a.ExpiresOn.Format(time.RFC3339))
	// Output: 2099-01-01T00:00:00Z
}

func ExampleAppService() {
	// A stand-in for the App Service managed-identity endpoint.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-IDENTITY-HEADER") != "header-from-the-platform" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"access_token":"eyJ...","expires_on":"4070908800","resource":%q,"token_type":"Bearer","client_id":%q}`,
			r.URL.Query().Get("resource"), r.URL.Query().Get("client_id"))
	}))
	defer srv.Close()

	// On App Service, AppService(nil) reads IDENTITY_ENDPOINT and IDENTITY_HEADER.
	src, err := assertion.AppService(&assertion.AppServiceOptions{
		Endpoint:       srv.URL + "/msi/token",
		IdentityHeader: "header-from-the-platform",
		ID:             assertion.ClientID("00000000-0000-0000-0000-000000000001"), // a user-assigned identity
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := src.Assertion(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("expires", a.ExpiresOn.Format(time.RFC3339))
	// Output: expires 2099-01-01T00:00:00Z
}

func ExampleIMDS() {
	// A stand-in for the instance metadata service.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata") != "true" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `{"access_token":"eyJ...","refresh_token":"","expires_in":"3599","expires_on":"4070908800","not_before":"4070905200","resource":"api://AzureADTokenExchange","token_type":"Bearer"}`)
	}))
	defer srv.Close()

	// On a VM, IMDS(nil) uses http://169.254.169.254.
	src, err := assertion.IMDS(&assertion.IMDSOptions{Endpoint: srv.URL})
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := src.Assertion(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("expires", a.ExpiresOn.Format(time.RFC3339))
	// Output: expires 2099-01-01T00:00:00Z
}

func ExampleWorkloadFile() {
	// The kubelet projects a service-account token into the pod; here we
	// write one ourselves.
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://oidc.example", "sub": "system:serviceaccount:default:app",
		"aud": "api://AzureADTokenExchange", "exp": 4070908800,
	}).SignedString([]byte("example"))
	path := filepath.Join(dir, "azure-identity-token")
	if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
		fmt.Println(err)
		return
	}

	// In a pod, WorkloadFile("") reads AZURE_FEDERATED_TOKEN_FILE.
	src, err := assertion.WorkloadFile(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := src.Assertion(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a.Token == tok, a.ExpiresOn.Format(time.RFC3339))
	// Output: true 2099-01-01T00:00:00Z
}

func ExampleCached() {
	calls := 0
	src := assertion.Func(func(ctx context.Context) (assertion.Assertion, error) {
		calls++
		return assertion.Assertion{Token: "eyJ...", ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	cached := assertion.Cached(src)
	for range 3 {
		if _, err := cached.Assertion(context.Background()); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println("fetches:", calls)
	// Output: fetches: 1
}

func ExampleCachedWithOptions() {
	// A clock the example moves by hand; the cache also reads it from the
	// goroutine that refreshes in the background, hence the lock.
	var mu sync.Mutex
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }

	var calls atomic.Int32
	src := assertion.Func(func(ctx context.Context) (assertion.Assertion, error) {
		calls.Add(1)
		return assertion.Assertion{Token: "eyJ...", ExpiresOn: clock().Add(time.Hour)}, nil
	})
	cached := assertion.CachedWithOptions(src, &assertion.CacheOptions{
		Clock:         clock,
		RefreshBefore: 10 * time.Minute,
	})
	first, _ := cached.Assertion(context.Background())
	advance(49 * time.Minute) // still fresh
	cached.Assertion(context.Background())
	advance(2 * time.Minute) // within 10 minutes of expiry: served, and refreshed in the background
	cached.Assertion(context.Background())
	advance(9 * time.Minute) // the first one is no longer served: the refreshed one is
	last, _ := cached.Assertion(context.Background())
	fmt.Println("fetches:", calls.Load(), "refreshed:", last.ExpiresOn.After(first.ExpiresOn))
	// Output: fetches: 2 refreshed: true
}

func ExampleInvalidator() {
	calls := 0
	src := assertion.Func(func(ctx context.Context) (assertion.Assertion, error) {
		calls++
		return assertion.Assertion{Token: fmt.Sprintf("eyJ...%d", calls), ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
	})
	cached := assertion.Cached(src)
	a, _ := cached.Assertion(context.Background())
	// Entra rejected a (say AADSTS700027 after a key rotation): drop it.
	if inv, ok := cached.(assertion.Invalidator); ok {
		inv.Invalidate(a.Token)
	}
	fresh, _ := cached.Assertion(context.Background())
	fmt.Println("fetches:", calls, "fresh differs:", fresh.Token != a.Token)
	// Output: fetches: 2 fresh differs: true
}

func ExampleFromEnvironment() {
	// What App Service and Functions set (the header value is a secret and
	// never printed).
	restore := setenv(map[string]string{
		"IDENTITY_ENDPOINT": "http://127.0.0.1:41741/msi/token",
		"IDENTITY_HEADER":   "header-from-the-platform",
	})
	defer restore()

	src, err := assertion.FromEnvironment()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(src)
	// Output: assertion.FromEnvironment: assertion.AppService(http://127.0.0.1:41741/msi/token, system-assigned) (IDENTITY_ENDPOINT and IDENTITY_HEADER are set)
}

// setenv sets vars and returns a function that restores the previous values.
func setenv(vars map[string]string) func() {
	old := map[string]*string{}
	for k, v := range vars {
		if prev, ok := os.LookupEnv(k); ok {
			old[k] = &prev
		} else {
			old[k] = nil
		}
		os.Setenv(k, v)
	}
	return func() {
		for k, v := range old {
			if v == nil {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, *v)
			}
		}
	}
}
