package conformance

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
	"github.com/tenantbridge/tenantbridge/internal/leak"
	"github.com/tenantbridge/tenantbridge/internal/noredirect"
)

// maxDocBytes bounds a discovery document, a key set and a token response:
// real ones are a few kilobytes.
const maxDocBytes = 1 << 20

// maxNetText bounds what of a server's text a report quotes.
const maxNetText = 300

// maxRSABits is the largest RSA modulus the harness verifies with, the
// largest crypto/rsa handles.
const maxRSABits = 16384

// requiredAlg is the one signature algorithm Entra accepts in a client
// assertion.
const requiredAlg = "RS256"

func checkSourceIssuerSignature(src assertion.Source, o *SourceOptions) []error {
	r := newSourceRun(src, o)
	a, ok := r.good("call before verifying the signature")
	if !ok {
		return r.result()
	}
	r.verifySignature(a.Token)
	return r.result()
}

// verifySignature checks token as Entra checks a client assertion: alg
// RS256, kid among the issuer's keys, the signature valid with that key.
func (r *sourceRun) verifySignature(token string) {
	header, err := jwtpeek.ParseHeader(token)
	if err != nil {
		r.errorf("the token is not a usable JWT: %v", err)
		return
	}
	if header.Alg != requiredAlg {
		r.errorf("the JWT's alg is %q: Entra accepts only %s-signed assertions and refuses any other with AADSTS700027", leak.Clip(header.Alg, 40), requiredAlg)
		return
	}
	if header.Kid == "" {
		r.errorf("the JWT's header has no kid: an assertion must name the issuer's key that signed it, or Entra cannot verify it (AADSTS700027)")
		return
	}
	keys, where, err := r.issuerKeys(token)
	if err != nil {
		var s skipError
		if errors.As(err, &s) {
			r.skip(err)
		} else {
			r.errorf("%v", err)
		}
		return
	}
	key, ok := keys[header.Kid]
	if !ok {
		kids := make([]string, 0, len(keys))
		for k := range keys {
			kids = append(kids, leak.Clip(k, 80))
		}
		slices.Sort(kids)
		r.errorf("the JWT's kid %q is not among the %d RSA key(s) of %s (kids %q): an assertion must be signed with a key its issuer publishes, or Entra rejects it (AADSTS700027)",
			leak.Clip(header.Kid, 80), len(keys), where, kids)
		return
	}
	if err := verifyRS256(token, key); err != nil {
		r.errorf("the JWT's signature does not verify with key %q of %s: an assertion must carry its issuer's valid RS256 signature, or Entra rejects it (AADSTS700027)", leak.Clip(header.Kid, 80), where)
		return
	}
	r.o.logf.logf("the JWT's RS256 signature verifies with key %q of %s", leak.Clip(header.Kid, 80), where)
}

// verifyRS256 checks the RS256 signature of a compact JWS.
func verifyRS256(token string, key *rsa.PublicKey) error {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return errors.New("not a compact JWS")
	}
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		return errors.New("the signature is not base64url")
	}
	sum := sha256.Sum256([]byte(token[:i]))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig)
}

// issuerKeys returns the keys to verify token with and where they come from:
// SourceOptions.Keys, else the key set the token's issuer publishes. An error
// that is a skipError means the keys could not be obtained (the check cannot
// be performed); any other error is a failure of the source.
func (r *sourceRun) issuerKeys(token string) (map[string]*rsa.PublicKey, string, error) {
	if r.o.Keys != nil {
		return r.o.Keys, "SourceOptions.Keys", nil
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if err := jwtpeek.Claims(token, &claims); err != nil {
		return nil, "", fmt.Errorf("the token is not a usable JWT: %v", err)
	}
	if claims.Iss == "" {
		return nil, "", errors.New("the JWT has no iss claim: Entra matches iss against the app's federated credentials and refuses an assertion without one")
	}
	iss := leak.Clip(claims.Iss, 200)
	u, err := url.Parse(claims.Iss)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, "", skipf("cannot verify the signature: no SourceOptions.Keys, and the JWT's iss %q is not an http(s) URL to discover the keys from", iss)
	}
	configURL := strings.TrimSuffix(claims.Iss, "/") + "/.well-known/openid-configuration"
	var config struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := r.getJSON(configURL, &config); err != nil {
		return nil, "", skipf("cannot verify the signature: no SourceOptions.Keys, and the discovery document of the JWT's issuer is not available: %v", err)
	}
	if config.Issuer != claims.Iss {
		return nil, "", fmt.Errorf("the discovery document %s names issuer %q, not the JWT's iss %q: an issuer's metadata must name it exactly (OpenID Connect Discovery 1.0, section 4.3), or its tokens cannot be validated",
			leak.Clip(configURL, 200), leak.Clip(config.Issuer, 200), iss)
	}
	if config.JWKSURI == "" {
		return nil, "", skipf("cannot verify the signature: the discovery document %s has no jwks_uri", leak.Clip(configURL, 200))
	}
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := r.getJSON(config.JWKSURI, &set); err != nil {
		return nil, "", skipf("cannot verify the signature: the issuer's key set is not available: %v", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" {
			continue
		}
		if pub, err := rsaKey(k.N, k.E); err == nil {
			keys[k.Kid] = pub
		}
	}
	return keys, "the issuer's key set " + leak.Clip(config.JWKSURI, 200), nil
}

// rsaKey decodes the n and e of an RSA JWK (RFC 7518 section 6.3.1).
func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(nb) == 0 {
		return nil, errors.New("bad n")
	}
	eb, err := base64.RawURLEncoding.DecodeString(e)
	if err != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("bad e")
	}
	ei := new(big.Int).SetBytes(eb).Int64()
	if ei < 3 {
		return nil, errors.New("bad e")
	}
	nn := new(big.Int).SetBytes(nb)
	if nn.BitLen() > maxRSABits {
		// A key set is read from the network: a huge modulus would make one
		// verification cost minutes of CPU.
		return nil, errors.New("n too large")
	}
	return &rsa.PublicKey{N: nn, E: int(ei)}, nil
}

// httpClient is the client for discovery: Transport, or a default bounded by
// Timeout.
func (o *SourceOptions) httpClient() *http.Client {
	return noredirect.Client(o.Transport, noredirect.Defaults{Timeout: o.Timeout})
}

// getJSON fetches a document of the issuer (redirects are not followed: an
// issuer serves its metadata at its own URLs).
func (r *sourceRun) getJSON(u string, v any) error {
	ctx, cancel := context.WithTimeout(r.o.base, r.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %v", leak.Clip(u, 200), leak.Clip(err.Error(), maxNetText))
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.o.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %v", leak.Clip(u, 200), leak.Clip(err.Error(), maxNetText))
	}
	defer resp.Body.Close()
	body, err := bodylimit.Read(resp.Body, maxDocBytes)
	if err != nil {
		return fmt.Errorf("GET %s: reading the answer: %v", leak.Clip(u, 200), err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", leak.Clip(u, 200), resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: the answer is not the JSON document expected", leak.Clip(u, 200))
	}
	return nil
}

func checkSourceTokenExchange(src assertion.Source, o *SourceOptions) []error {
	r := newSourceRun(src, o)
	if o.ExchangeClientID == "" {
		r.errorf("SourceOptions.TokenEndpoint is set but ExchangeClientID is empty: the TokenExchange check needs the client ID of an app that trusts the source")
		return r.result()
	}
	a, ok := r.good("call before the exchange")
	if !ok {
		return r.result()
	}
	r.exchange(a.Token)
	return r.result()
}

// exchange posts token to the token endpoint as a client assertion and
// requires an access token.
func (r *sourceRun) exchange(token string) {
	endpoint := leak.Clip(r.o.TokenEndpoint, 200)
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {r.o.ExchangeClientID},
		"scope":                 {r.o.ExchangeScope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {token},
	}
	ctx, cancel := context.WithTimeout(r.o.base, r.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.o.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		r.errorf("SourceOptions.TokenEndpoint %q is not a URL", endpoint)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := r.o.httpClient().Do(req)
	if err != nil {
		r.skip(skipf("cannot exchange the assertion: POST %s: %v", endpoint, leak.Clip(err.Error(), maxNetText, token)))
		return
	}
	defer resp.Body.Close()
	body, err := bodylimit.Read(resp.Body, maxDocBytes)
	if err != nil {
		r.skip(skipf("cannot exchange the assertion: POST %s: reading the answer: %v", endpoint, err))
		return
	}
	var answer struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	_ = json.Unmarshal(body, &answer)
	if resp.StatusCode == http.StatusOK && answer.AccessToken != "" {
		r.o.logf.logf("POST %s exchanged the assertion for a %s token", endpoint, leak.Clip(answer.TokenType, 20))
		return
	}
	desc, _, _ := strings.Cut(answer.Description, "\n")
	if resp.StatusCode == http.StatusOK {
		desc = "HTTP 200 without an access_token"
	}
	r.errorf("the token endpoint %s refused the assertion (HTTP %d, error %q, codes %v: %s): a source's assertion must be accepted by a token endpoint whose app trusts its issuer, subject and audience",
		endpoint, resp.StatusCode, leak.Clip(answer.Error, 60, token), answer.Codes, leak.Clip(desc, maxNetText, token, answer.AccessToken))
}
