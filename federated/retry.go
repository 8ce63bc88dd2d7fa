package federated

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantbridge/tenantbridge/assertion"
)

// The azcore pipeline retries what any HTTP request may meet (throttling,
// an unhealthy front end, a broken connection) as Options.Retry says. The
// two recoveries here depend on what Entra's error means, so they sit above
// the pipeline and are tried at most once each per token.

// FIC propagation: Entra documents that a new federated identity credential
// may take a few seconds to be honoured. One retry after ficPropagationWait,
// only during ficPropagationWindow after the Credential was created.
const (
	ficPropagationWindow = 5 * time.Minute
	ficPropagationWait   = 10 * time.Second
)

// replaceAssertion answers Entra's rejection of the client assertion itself
// (AuthError.rejectsAssertion): it drops the rejected assertion from
// the source's cache (the Credential's own assertion.Cached wrapper is an
// Invalidator) and fetches another for one more attempt. Without this a
// rejected managed-identity assertion, cached for its 24 hours, would be
// re-sent by every request for every tenant until it expired. When the source
// answers with the same assertion (the platform caches too) or fails, the
// error is returned: rejected, joined with the source's error if any.
func (c *Credential) replaceAssertion(ctx context.Context, key cacheKey, rejected *AuthError, token string) (assertion.Assertion, error) {
	if inv, ok := c.src.(assertion.Invalidator); ok {
		inv.Invalidate(token)
	}
	fresh, err := c.src.Assertion(ctx)
	if err != nil {
		return assertion.Assertion{}, errors.Join(rejected,
			fmt.Errorf("federated: getting a new client assertion after Entra rejected the previous one: %w", err))
	}
	if fresh.Token == token {
		c.logf("federated: AADSTS%d: Entra rejected the client assertion for tenant %s scope %s, and the assertion source returned the same assertion again; not retrying",
			rejected.firstCode(), key.tenant, key.scope)
		return assertion.Assertion{}, rejected
	}
	c.logf("federated: AADSTS%d: Entra rejected the client assertion for tenant %s scope %s; fetched a new assertion, retrying once",
		rejected.firstCode(), key.tenant, key.scope)
	return fresh, nil
}

// mayBePropagating reports whether e can be a federated credential that
// Entra has not propagated yet: a FIC mismatch, early in the Credential's
// life, and the caller asked for the wait
// ([Options].RetryFederatedCredentialPropagation).
func (c *Credential) mayBePropagating(e *AuthError) bool {
	return c.propagation && e.isFICMismatch() && c.now().Sub(c.created) < ficPropagationWindow
}

// awaitPropagation waits ficPropagationWait before the one more attempt; an
// end of ctx during the wait is returned joined with e.
func (c *Credential) awaitPropagation(ctx context.Context, key cacheKey, e *AuthError) error {
	c.logf("federated: AADSTS%d for tenant %s shortly after the credential was created; retrying once in %s in case the federated credential is still propagating",
		e.firstCode(), key.tenant, ficPropagationWait)
	if err := c.sleep(ctx, ficPropagationWait); err != nil {
		return errors.Join(e, err)
	}
	return nil
}
