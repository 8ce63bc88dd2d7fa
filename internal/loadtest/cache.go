package loadtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/federated"
)

// CacheConfig is the cache run.
type CacheConfig struct {
	Tenants int // distinct tenants, each one token
}

// CacheResult is what the cache run measured.
type CacheResult struct {
	Config CacheConfig
	// Cold: the first GetToken of every tenant, each a (canned) token
	// request; Warm: a second pass, every call a cache hit.
	Cold, Warm Phase
	// Heap is the live heap the cache holds after the cold pass (after a
	// collection), against before.
	Heap int64
}

// Phase is one pass over the tenants.
type Phase struct {
	Elapsed time.Duration
	Allocs  uint64 // heap allocations (runtime.MemStats.Mallocs)
	Bytes   uint64 // bytes allocated (TotalAlloc)
}

func (p Phase) perOp(n int) string {
	return fmt.Sprintf("%s (%s/op, %.1f allocs/op, %d B/op)", p.Elapsed.Round(time.Millisecond),
		round(p.Elapsed/time.Duration(max(n, 1))), float64(p.Allocs)/float64(max(n, 1)), p.Bytes/uint64(max(n, 1)))
}

func (r *CacheResult) String() string {
	n := r.Config.Tenants
	return fmt.Sprintf("cache: %d tenants: cold %s; warm %s; heap held %s (%d B/tenant)",
		n, r.Cold.perOp(n), r.Warm.perOp(n), mib(r.Heap), r.Heap/int64(max(n, 1)))
}

// Failed says which criterion the run missed, or "": the warm pass must not
// allocate (the credential's cached path allocates nothing).
func (r *CacheResult) Failed() string {
	if perOp := float64(r.Warm.Allocs) / float64(max(r.Config.Tenants, 1)); perOp >= 1 {
		return fmt.Sprintf("warm GetToken allocates (%.2f allocs/op)", perOp)
	}
	return ""
}

// cannedTransport answers every token request at once with the same token.
type cannedTransport struct{ body []byte }

func (t *cannedTransport) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(bytes.NewReader(t.body)),
		Request: req, ContentLength: int64(len(t.body)),
	}, nil
}

// fakeJWT is an unsigned token with the given claims JSON: the credential
// and the assertion cache only read its exp.
func fakeJWT(claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims)) + "." + enc.EncodeToString([]byte("not a signature"))
}

// Cache runs the cache load: one credential, a token for each of
// cfg.Tenants tenants through a transport that answers at once (so that the
// cache, not a server, is measured), then every tenant again from the cache.
func Cache(ctx context.Context, cfg CacheConfig) (*CacheResult, error) {
	if cfg.Tenants <= 0 {
		return nil, errors.New("loadtest: cache run needs tenants")
	}
	exp := time.Now().Add(24 * time.Hour).Unix()
	tok := fakeJWT(fmt.Sprintf(`{"aud":"https://graph.microsoft.com","exp":%d}`, exp))
	body := []byte(fmt.Sprintf(`{"token_type":"Bearer","expires_in":3600,"ext_expires_in":3600,"access_token":%q}`, tok))
	src := assertion.Static(fakeJWT(fmt.Sprintf(`{"aud":"api://AzureADTokenExchange","iss":"https://issuer.example","sub":"load","exp":%d}`, exp)))
	cred, err := federated.NewCredential(loadTenantID(0), "aaaaaaaa-0000-4000-8000-000000000000", src, &federated.Options{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: "https://login.loadtest.test/"},
			Transport: &cannedTransport{body: body},
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
		AdditionallyAllowedTenants: []string{"*"},
	})
	if err != nil {
		return nil, err
	}
	opts := make([]policy.TokenRequestOptions, cfg.Tenants)
	for i := range opts {
		opts[i] = policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}, TenantID: loadTenantID(i)}
	}
	res := &CacheResult{Config: cfg}
	var before, after runtime.MemStats
	// Two collections: the first frees what earlier runs left, the second
	// what sync.Pools kept in their victim caches, so that the difference
	// below is what the cache holds.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	pass := func() (Phase, error) {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		start := time.Now()
		for i := range opts {
			if _, err := cred.GetToken(ctx, opts[i]); err != nil {
				return Phase{}, fmt.Errorf("tenant %d: %w", i, err)
			}
		}
		elapsed := time.Since(start)
		runtime.ReadMemStats(&m1)
		return Phase{Elapsed: elapsed, Allocs: m1.Mallocs - m0.Mallocs, Bytes: m1.TotalAlloc - m0.TotalAlloc}, nil
	}
	if res.Cold, err = pass(); err != nil {
		return nil, err
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	res.Heap = int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if res.Warm, err = pass(); err != nil {
		return nil, err
	}
	runtime.KeepAlive(cred)
	return res, nil
}
