package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// CredentialConfig is the credential run.
type CredentialConfig struct {
	Goroutines int           // callers, spread evenly over the tenants
	Tenants    int           // distinct tenants, each consented
	Duration   time.Duration // how long the callers call
	// TokenLifetime of the emulator's access tokens: short, so that tokens
	// are refreshed (at half-life) during the run.
	TokenLifetime  time.Duration
	SigningKeyBits int // the emulator's RSA key size (0: 2048)
}

// CredentialResult is what the credential run measured.
type CredentialResult struct {
	Config        CredentialConfig
	Calls         uint64  // GetToken calls
	Errors        uint64  // failed GetToken calls
	FirstError    string  // the first failure, clipped
	TokenRequests int64   // POSTs to the token endpoint
	MSIRequests   int64   // managed-identity requests (assertions)
	MaxRequests   int64   // what the criteria allow: keys + refreshes
	Latency       Latency // of every GetToken call
	Elapsed       time.Duration
}

// Failed says which criterion the run missed, or "".
func (r *CredentialResult) Failed() string {
	keys := int64(r.Config.Tenants)
	switch {
	case r.Errors > 0:
		return fmt.Sprintf("%d GetToken errors (first: %s)", r.Errors, r.FirstError)
	case r.TokenRequests < keys:
		return fmt.Sprintf("%d token requests for %d distinct keys", r.TokenRequests, keys)
	case r.TokenRequests > r.MaxRequests:
		return fmt.Sprintf("%d token requests, more than %d keys plus their refreshes (%d)", r.TokenRequests, keys, r.MaxRequests)
	}
	return ""
}

func (r *CredentialResult) String() string {
	keys := int64(r.Config.Tenants)
	return fmt.Sprintf("credential: %d goroutines, %d tenants, %s: %d GetToken calls (%.0f/s), %d errors; upstream %d token requests = %d keys + %d refreshes (allowed at most %d), %d managed-identity requests; latency %s",
		r.Config.Goroutines, r.Config.Tenants, r.Elapsed.Round(time.Millisecond), r.Calls, float64(r.Calls)/r.Elapsed.Seconds(), r.Errors,
		r.TokenRequests, keys, r.TokenRequests-keys, r.MaxRequests, r.MSIRequests, r.Latency)
}

// loadTenantID is the ID of the i-th tenant the load scenarios add.
func loadTenantID(i int) string { return fmt.Sprintf("10ad%04x-0000-4000-8000-%012x", i>>16, i) }

// scenarioWithTenants is the default scenario plus n tenants that consented
// the default app's Device.Read.All.
func scenarioWithTenants(n int) (*fakeidp.Scenario, []string) {
	sc := fakeidp.DefaultScenario()
	ids := make([]string, n)
	for i := range n {
		ids[i] = loadTenantID(i)
		sc.Tenants = append(sc.Tenants, fakeidp.Tenant{ID: ids[i], DisplayName: fmt.Sprintf("Load tenant %d", i)})
		sc.Consents = append(sc.Consents, fakeidp.Consent{Tenant: ids[i], ClientID: fakeidp.DefaultAppClientID, Roles: []string{"Device.Read.All"}})
	}
	return sc, ids
}

// countingTransport counts the requests to the token and managed-identity
// endpoints.
type countingTransport struct {
	next       *http.Client
	token, msi atomic.Int64
}

func (c *countingTransport) Do(req *http.Request) (*http.Response, error) {
	switch p := req.URL.Path; {
	case strings.HasSuffix(p, "/oauth2/v2.0/token"):
		c.token.Add(1)
	case p == "/msi/token" || p == "/metadata/identity/oauth2/token":
		c.msi.Add(1)
	}
	return c.next.Do(req)
}

// Credential runs the credential load: cfg.Goroutines callers of one
// federated.Credential, caller g asking for tenant g mod cfg.Tenants, for
// cfg.Duration, against an emulator started in process.
func Credential(ctx context.Context, cfg CredentialConfig) (*CredentialResult, error) {
	if cfg.Goroutines <= 0 || cfg.Tenants <= 0 || cfg.Duration <= 0 || cfg.TokenLifetime < 2*time.Second {
		return nil, errors.New("loadtest: credential run needs goroutines, tenants, a duration and a token lifetime of 2 s or more")
	}
	sc, tenants := scenarioWithTenants(cfg.Tenants)
	emu, err := emulator.Start(&emulator.Options{Scenario: sc, TokenLifetime: cfg.TokenLifetime, SigningKeyBits: cfg.SigningKeyBits})
	if err != nil {
		return nil, err
	}
	defer emu.Close()
	counter := &countingTransport{next: emu.Client()}
	src, err := assertion.AppService(&assertion.AppServiceOptions{
		Endpoint: emu.AppServiceEndpoint(), IdentityHeader: emu.IdentityHeader(), Transport: counter,
	})
	if err != nil {
		return nil, err
	}
	tn := emu.Tenancy()
	cred, err := federated.NewCredential(tn.Home.ID, tn.App.ClientID, src, &federated.Options{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: emu.AuthorityHost()},
			Transport: counter,
		},
		AdditionallyAllowedTenants: []string{"*"},
	})
	if err != nil {
		return nil, err
	}

	res := &CredentialResult{Config: cfg}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		total    hist
		errs     atomic.Uint64
		firstErr atomic.Pointer[string]
	)
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	runCtx, cancel := context.WithDeadline(ctx, deadline.Add(time.Minute))
	defer cancel()
	for g := range cfg.Goroutines {
		wg.Go(func() {
			opts := policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}, TenantID: tenants[g%len(tenants)]}
			h := new(hist)
			for {
				t0 := time.Now()
				if !t0.Before(deadline) || runCtx.Err() != nil {
					break
				}
				_, err := cred.GetToken(runCtx, opts)
				h.add(time.Since(t0))
				if err != nil {
					errs.Add(1)
					msg := leak.Clip(err.Error(), 300)
					firstErr.CompareAndSwap(nil, &msg)
				}
				// Let the others run, as a caller with work to do between
				// calls would: 10,000 goroutines that never block share
				// the cores in 10 ms slices, and a call preempted mid-way
				// would otherwise measure the scheduler's round, seconds.
				runtime.Gosched()
			}
			mu.Lock()
			total.merge(h)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Calls, res.Errors, res.Latency = total.n, errs.Load(), total.latency()
	if p := firstErr.Load(); p != nil {
		res.FirstError = *p
	}
	res.TokenRequests, res.MSIRequests = counter.token.Load(), counter.msi.Load()
	// Each key is fetched once, then refreshed from half-life on (tokens
	// shorter than ten minutes): at most one refresh per half-lifetime
	// while the run lasts, plus one for a refresh under way at its end.
	refreshes := int64(res.Elapsed/(cfg.TokenLifetime/2)) + 1
	res.MaxRequests = int64(cfg.Tenants) * (1 + refreshes)
	return res, nil
}
