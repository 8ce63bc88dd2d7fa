package federated

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/tenantbridge/tenantbridge/internal/recovered"
	"github.com/tenantbridge/tenantbridge/internal/refresh"
)

const (
	// refreshBeforeExpiry is how long before expiry a token without refresh_in
	// is refreshed; tokens shorter than shortTokenLifetime refresh at half-life
	// instead, so they are not refreshed the moment they arrive.
	refreshBeforeExpiry = 5 * time.Minute
	shortTokenLifetime  = 10 * time.Minute
)

// tokenRequestName prefixes the errors of the token cache (a recovered
// panic, a waiter's ended context). A failed background refresh waits
// refresh.DefaultRetryInterval before the next, so a down token endpoint sees
// one request per key per interval rather than one per GetToken call; each is
// bounded by refresh.DefaultRefreshBudget, retries included.
const tokenRequestName = "federated: token request"

// cacheKey identifies a cached token. scope is the single requested scope, or
// the scopes joined by spaces; a single scope is used as is, so the warm path
// builds the key without allocating.
type cacheKey struct {
	tenant string
	scope  string
	cae    bool
}

func (c *Credential) getToken(ctx context.Context, def string, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tenant, err := c.resolveTenant(opts.TenantID, def)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	// The key is filled field by field: the cache takes its address, and a
	// composite literal would be built aside and copied in, a store-forwarding
	// stall that measured a tenth of a warm call.
	var key cacheKey
	key.tenant, key.cae = tenant, opts.EnableCAE
	switch len(opts.Scopes) {
	case 0:
		return azcore.AccessToken{}, fmt.Errorf("federated: no scopes requested; ask for \"{resource}/.default\", for example \"https://graph.microsoft.com/.default\"")
	case 1:
		key.scope = opts.Scopes[0]
	default:
		key.scope = strings.Join(opts.Scopes, " ")
	}
	if opts.Claims != "" {
		// A claims challenge asks for a token that satisfies new conditions;
		// the cached one is what the resource just rejected. The result is
		// not cached: it was shaped by this challenge. It bypasses the cache
		// but not its rule for a panic while fetching.
		return recovered.Call(tokenRequestName, func() (azcore.AccessToken, error) {
			return c.fetch(ctx, key, opts.Claims)
		})
	}
	// Warm path: one atomic load of the table's index, one of the entry's
	// state, one monotonic clock read; no lock, no allocation.
	tok, err := c.tokens.Get(ctx, tokenHost{c}, &key)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return *tok, nil
}

// tokenHost is what the cache engine asks of the Credential. It holds one
// pointer, so converting it to refresh.Host allocates nothing, and it reads
// the Credential's fields at each call, so tests can swap the clock.
type tokenHost struct{ c *Credential }

// Now is the time since the Credential's creation. Without an injected clock
// it is time.Since(created): created came from time.Now and carries a
// monotonic reading, so this is one monotonic clock read, where time.Now
// reads the wall clock too and costs twice as much (the clock was nearly half
// of a warm GetToken).
func (h tokenHost) Now() time.Duration {
	if h.c.clock == nil {
		return time.Since(h.c.created)
	}
	return h.c.clock().Sub(h.c.created)
}

// Fetch requests a token. Its times were read from c.now, as c.created was,
// so the differences are taken on the same clock (the monotonic one in
// production).
func (h tokenHost) Fetch(ctx context.Context, key cacheKey) (refresh.Lease[azcore.AccessToken], error) {
	tok, err := h.c.fetch(ctx, key, "")
	if err != nil {
		return refresh.Lease[azcore.AccessToken]{}, err
	}
	return refresh.Lease[azcore.AccessToken]{
		Value:     tok,
		RefreshAt: tok.RefreshOn.Sub(h.c.created),
		ExpiresAt: tok.ExpiresOn.Sub(h.c.created),
	}, nil
}

func (h tokenHost) Observe(ev refresh.Event[cacheKey, azcore.AccessToken]) {
	c, k := h.c, ev.Key
	switch ev.Kind {
	case refresh.Miss:
		c.logf("federated: cache miss for tenant %s scope %s (CAE %t), requesting a token", k.tenant, k.scope, k.cae)
	case refresh.Join:
		if c.onJoin != nil {
			c.onJoin()
		}
	case refresh.Refresh:
		c.logf("federated: refreshing token for tenant %s scope %s (CAE %t) ahead of expiry", k.tenant, k.scope, k.cae)
	case refresh.RefreshFailed:
		until := "it expires"
		if ev.Kept != nil {
			until += " at " + ev.Kept.Value.ExpiresOn.UTC().Format(time.RFC3339)
		}
		c.logf("federated: refreshing token for tenant %s scope %s failed; the current token is served until %s: %v",
			k.tenant, k.scope, until, ev.Err)
	}
}

// refreshOn plans when a token obtained at now is refreshed: at refresh_in if
// Entra sent it, else refreshBeforeExpiry before expiry, else (short tokens)
// at half-life.
func refreshOn(now time.Time, expiresIn, refreshIn time.Duration) time.Time {
	switch {
	case refreshIn > 0 && refreshIn < expiresIn:
		return now.Add(refreshIn)
	case expiresIn >= shortTokenLifetime:
		return now.Add(expiresIn - refreshBeforeExpiry)
	default:
		return now.Add(expiresIn / 2)
	}
}
