package federated

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/tenantbridge/tenantbridge/assertion"
)

// maxResponseBytes bounds what is read of a token endpoint response; real
// ones are a few kilobytes.
const maxResponseBytes = 1 << 20

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// tokenResponse is the token endpoint's success body. Entra sends the numbers
// as JSON numbers; some proxies and emulators send strings, so both are read.
type tokenResponse struct {
	AccessToken string      `json:"access_token"`
	TokenType   string      `json:"token_type"`
	ExpiresIn   json.Number `json:"expires_in"`
	RefreshIn   json.Number `json:"refresh_in"`
}

// fetch obtains a new token for key with one POST to the tenant's token
// endpoint (retried as retryPolicy and the propagation option allow). claims is
// a claims challenge, or "".
func (c *Credential) fetch(ctx context.Context, key cacheKey, claims string) (azcore.AccessToken, error) {
	claimsParam, err := requestClaims(key.cae, claims)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	a, err := c.src.Assertion(ctx)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("federated: getting the client assertion: %w", err)
	}
	form := url.Values{
		"client_id":             {c.clientID},
		"scope":                 {key.scope},
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {jwtBearer},
		"client_assertion":      {a.Token},
	}
	if claimsParam != "" {
		form.Set("claims", claimsParam)
	}
	body := form.Encode()
	endpoint := c.authority + "/" + key.tenant + "/oauth2/v2.0/token"

	start := c.now()
	propagationRetried, assertionRetried := false, false
	for try := 1; ; try++ {
		sent := c.now()
		resp, err := c.post(ctx, endpoint, body)
		if err != nil {
			if ctx.Err() != nil || try > c.retry.maxRetries {
				return azcore.AccessToken{}, fmt.Errorf("federated: token request to %s: %w", endpoint, err)
			}
			if err := c.sleep(ctx, c.retry.backoff(try, nil, c.now())); err != nil {
				return azcore.AccessToken{}, fmt.Errorf("federated: token request to %s: %w", endpoint, err)
			}
			continue
		}
		if resp.status == http.StatusOK {
			tok, err := parseToken(resp.body, sent)
			if err != nil {
				return azcore.AccessToken{}, fmt.Errorf("federated: token response from %s: %w", endpoint, err)
			}
			c.logf("federated: got token for tenant %s scope %s (CAE %t, claims %t) in %s after %d attempt(s); expires %s, refresh at %s",
				key.tenant, key.scope, key.cae, claims != "", c.now().Sub(start), try,
				tok.ExpiresOn.UTC().Format(time.RFC3339), tok.RefreshOn.UTC().Format(time.RFC3339))
			return tok, nil
		}
		authErr := newAuthError(resp, c, key, a.Token)
		switch {
		case retryableStatus(resp.status) && try <= c.retry.maxRetries:
			d := c.retry.backoff(try, resp.header, c.now())
			c.logf("federated: token request for tenant %s answered %d; retrying in %s", key.tenant, resp.status, d)
			if err := c.sleep(ctx, d); err != nil {
				return azcore.AccessToken{}, errors.Join(authErr, err)
			}
		case !assertionRetried && authErr.rejectsAssertion():
			assertionRetried = true
			fresh, err := c.freshAssertion(ctx, a.Token)
			if err != nil {
				return azcore.AccessToken{}, errors.Join(authErr, err)
			}
			if fresh.Token == a.Token {
				c.logf("federated: AADSTS%d: Entra rejected the client assertion for tenant %s scope %s, and the assertion source returned the same assertion again; not retrying",
					authErr.firstCode(), key.tenant, key.scope)
				return azcore.AccessToken{}, authErr
			}
			c.logf("federated: AADSTS%d: Entra rejected the client assertion for tenant %s scope %s; fetched a new assertion, retrying once",
				authErr.firstCode(), key.tenant, key.scope)
			a = fresh
			form.Set("client_assertion", a.Token)
			body = form.Encode()
		case c.propagation && !propagationRetried && authErr.isFICMismatch() && c.now().Sub(c.created) < ficPropagationWindow:
			propagationRetried = true
			c.logf("federated: AADSTS%d for tenant %s shortly after the credential was created; retrying once in %s in case the federated credential is still propagating",
				authErr.firstCode(), key.tenant, ficPropagationWait)
			if err := c.sleep(ctx, ficPropagationWait); err != nil {
				return azcore.AccessToken{}, errors.Join(authErr, err)
			}
		default:
			c.logf("federated: token request for tenant %s scope %s failed: %v", key.tenant, key.scope, authErr)
			return azcore.AccessToken{}, authErr
		}
	}
}

// freshAssertion drops the rejected assertion from the source's cache (the
// Credential's own assertion.Cached wrapper is an Invalidator) and fetches
// another. Without this a rejected managed-identity assertion, cached for its
// 24 hours, would be re-sent by every request for every tenant until it
// expired. The source may answer with the same assertion (the platform caches
// too); the caller checks.
func (c *Credential) freshAssertion(ctx context.Context, rejected string) (assertion.Assertion, error) {
	if inv, ok := c.src.(assertion.Invalidator); ok {
		inv.Invalidate(rejected)
	}
	a, err := c.src.Assertion(ctx)
	if err != nil {
		return assertion.Assertion{}, fmt.Errorf("federated: getting a new client assertion after Entra rejected the previous one: %w", err)
	}
	return a, nil
}

// httpResult is what fetch needs of a response, read and closed.
type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func (c *Credential) post(ctx context.Context, endpoint, body string) (*httpResult, error) {
	if c.retry.tryTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.retry.tryTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, scrubURLError(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxResponseBytes {
		return nil, fmt.Errorf("response larger than %d bytes", maxResponseBytes)
	}
	return &httpResult{
		status: resp.StatusCode,
		header: resp.Header,
		body:   b,
	}, nil
}

// scrubURLError drops url.Error's repetition of the method and URL (fetch
// names the endpoint itself) and keeps the cause for errors.Is/As.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// parseToken reads a success body. now is when the request was sent, so the
// computed expiry errs early.
func parseToken(body []byte, now time.Time) (azcore.AccessToken, error) {
	var tr tokenResponse
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&tr); err != nil {
		return azcore.AccessToken{}, fmt.Errorf("body is not a token response (%d bytes)", len(body))
	}
	if tr.AccessToken == "" {
		return azcore.AccessToken{}, errors.New("no access_token in the response")
	}
	expiresIn, err := seconds(tr.ExpiresIn)
	if err != nil || expiresIn <= 0 {
		return azcore.AccessToken{}, fmt.Errorf("invalid expires_in %q", tr.ExpiresIn.String())
	}
	var refreshIn time.Duration
	if tr.RefreshIn != "" {
		if refreshIn, err = seconds(tr.RefreshIn); err != nil {
			return azcore.AccessToken{}, fmt.Errorf("invalid refresh_in %q", tr.RefreshIn.String())
		}
	}
	return azcore.AccessToken{
		Token:     tr.AccessToken,
		ExpiresOn: now.Add(expiresIn),
		RefreshOn: refreshOn(now, expiresIn, refreshIn),
	}, nil
}

func seconds(n json.Number) (time.Duration, error) {
	s, err := strconv.ParseInt(strings.TrimSpace(n.String()), 10, 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(s) * time.Second, nil
}
