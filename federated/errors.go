package federated

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// AuthError is a token request that Microsoft Entra answered with an error.
// It carries the protocol fields and, for the errors people hit while setting
// up workload identity federation, a Hint saying what to change. Use
// [errors.As] to get it from an error of [Credential.GetToken]; the message
// text is not a contract. It never contains an access token or the client
// assertion.
type AuthError struct {
	StatusCode    int    // HTTP status of the token response
	Code          string // OAuth "error", e.g. "invalid_client"
	ErrorCodes    []int  // AADSTS codes, e.g. 700016; see HasCode
	Message       string // "error_description", first line, clipped; or the start of a non-JSON body
	TraceID       string
	CorrelationID string
	Timestamp     string

	Tenant    string // tenant the token was requested in
	ClientID  string
	Scope     string
	Authority string // authority host, e.g. https://login.microsoftonline.com

	// The presented assertion's claims, read without verification (they are
	// not secret) when the error is about the assertion: FIC mismatches and
	// AADSTS700024. Compare them with the app's federated credentials.
	AssertionIssuer    string
	AssertionSubject   string
	AssertionAudience  []string
	AssertionNotBefore time.Time
	AssertionExpiresOn time.Time

	// Hint explains the likely cause and fix; empty for codes we have no
	// advice for.
	Hint string
}

// Error implements error.
func (e *AuthError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "federated: token request for tenant %s (client %s, scope %s) failed: HTTP %d", e.Tenant, e.ClientID, e.Scope, e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.TraceID != "" || e.CorrelationID != "" {
		fmt.Fprintf(&b, " (trace ID %s, correlation ID %s", e.TraceID, e.CorrelationID)
		if e.Timestamp != "" {
			fmt.Fprintf(&b, ", timestamp %s", e.Timestamp)
		}
		b.WriteString(")")
	}
	if e.Hint != "" {
		b.WriteString(". Hint: " + e.Hint)
	}
	return b.String()
}

// HasCode reports whether Entra returned the AADSTS code (one of
// [AuthError].ErrorCodes).
func (e *AuthError) HasCode(code int) bool { return slices.Contains(e.ErrorCodes, code) }

func (e *AuthError) firstCode() int {
	if len(e.ErrorCodes) == 0 {
		return 0
	}
	return e.ErrorCodes[0]
}

func (e *AuthError) isFICMismatch() bool {
	return e.HasCode(70021) || e.HasCode(700211) || e.HasCode(700212) || e.HasCode(700213)
}

// rejectsAssertion reports whether Entra refused the client assertion itself
// rather than what it asserts: a bad or unverifiable signature (700027, as
// after the issuer rotated its signing keys), a validity period the token
// endpoint disagrees with (700024: clock skew, or a token the platform revoked
// early), an invalid client credential (7000215) or a malformed JWT (50027).
// A fresh assertion from the source can succeed where this one failed; a FIC
// mismatch or a missing consent cannot, and is not retried this way.
func (e *AuthError) rejectsAssertion() bool {
	return e.HasCode(700027) || e.HasCode(700024) || e.HasCode(7000215) || e.HasCode(50027)
}

// errorResponse is the token endpoint's error body.
type errorResponse struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	ErrorCodes    []int  `json:"error_codes"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
}

// Bounds of the text from the network an *AuthError repeats (see
// leak.Clip): error_description (or a non-JSON body), and the short fields
// (the OAuth error code, Entra's IDs and timestamp), which are a few dozen
// bytes when they come from Entra but could be anything from a proxy in
// between.
const (
	maxMessage = 512
	maxField   = 128
	// maxErrorCodes bounds ErrorCodes: Entra sends one or two.
	maxErrorCodes = 16
)

func newAuthError(resp *httpResult, c *Credential, key cacheKey, assertionToken string) *AuthError {
	e := &AuthError{
		StatusCode: resp.status,
		Tenant:     key.tenant,
		ClientID:   c.clientID,
		Scope:      key.scope,
		Authority:  c.authority,
	}
	var er errorResponse
	if err := json.Unmarshal(resp.body, &er); err == nil {
		e.Code = leak.Clip(er.Error, maxField, assertionToken)
		// A copy, so that a hostile list does not stay referenced.
		e.ErrorCodes = slices.Clone(er.ErrorCodes[:min(len(er.ErrorCodes), maxErrorCodes)])
		e.Message = er.Description
		e.TraceID = leak.Clip(er.TraceID, maxField, assertionToken)
		e.CorrelationID = leak.Clip(er.CorrelationID, maxField, assertionToken)
		e.Timestamp = leak.Clip(er.Timestamp, maxField, assertionToken)
	} else if len(resp.body) > 0 {
		e.Message = "non-JSON response: " + string(resp.body)
	}
	// The first line only: Entra appends the trace and correlation IDs on
	// further lines, and they are in their own fields already. Entra never
	// echoes the assertion, but a proxy in between might.
	if i := strings.IndexAny(e.Message, "\r\n"); i >= 0 {
		e.Message = e.Message[:i]
	}
	e.Message = leak.Clip(e.Message, maxMessage, assertionToken)
	if e.TraceID == "" {
		e.TraceID = leak.Clip(resp.header.Get("X-Ms-Request-Id"), maxField, assertionToken)
	}
	if e.isFICMismatch() || e.HasCode(700024) {
		e.readAssertion(assertionToken)
	}
	e.Hint = e.hint(c.now())
	return e
}

// readAssertion fills the Assertion* fields from the JWT's payload. The
// signature is not checked: the values are only shown to a human.
func (e *AuthError) readAssertion(jwt string) {
	var claims struct {
		Iss string           `json:"iss"`
		Sub string           `json:"sub"`
		Aud jwtpeek.Audience `json:"aud"`
		Nbf json.Number      `json:"nbf"`
		Exp json.Number      `json:"exp"`
	}
	if jwtpeek.Claims(jwt, &claims) != nil {
		return
	}
	e.AssertionIssuer, e.AssertionSubject, e.AssertionAudience = claims.Iss, claims.Sub, claims.Aud
	if t, err := jwtpeek.NumericDate(claims.Nbf); err == nil {
		e.AssertionNotBefore = t
	}
	if t, err := jwtpeek.NumericDate(claims.Exp); err == nil {
		e.AssertionExpiresOn = t
	}
}

func (e *AuthError) presented() string {
	return fmt.Sprintf("the assertion presented issuer %q, subject %q, audience %q", e.AssertionIssuer, e.AssertionSubject, strings.Join(e.AssertionAudience, " "))
}

// ficAdvice is what a federated credential trusting an Azure managed identity
// must contain (Entra: "Configure an application to trust a managed identity").
const ficAdvice = "for a managed identity use issuer https://login.microsoftonline.com/{home-tenant-ID}/v2.0, " +
	"subject = the identity's object (principal) ID, audience api://AzureADTokenExchange; the match is exact and case-sensitive"

func (e *AuthError) hint(now time.Time) string {
	switch {
	case e.HasCode(700016):
		return fmt.Sprintf("app %s is not known in tenant %s: either the client ID is wrong, or an administrator of that tenant has not consented to the app yet. "+
			"Admin consent URL: %s/%s/adminconsent?client_id=%s", e.ClientID, e.Tenant, e.Authority, e.Tenant, e.ClientID)
	case e.HasCode(700211):
		return fmt.Sprintf("no federated credential of app %s has the assertion's issuer; %s. Add or fix a federated credential; %s", e.ClientID, e.presented(), ficAdvice)
	case e.HasCode(700212):
		return fmt.Sprintf("no federated credential of app %s has the assertion's audience; %s. The assertion must be requested for api://AzureADTokenExchange (or the audience you configured); %s", e.ClientID, e.presented(), ficAdvice)
	case e.HasCode(700213) && strings.HasPrefix(e.AssertionSubject, "repo:"):
		return fmt.Sprintf("no federated credential of app %s has the subject of this GitHub Actions job; %s. to trust this job the app needs a credential with subject exactly %q: "+
			"GitHub's subject names the repository and what the job runs for, repo:ORG/REPO:ref:refs/heads/BRANCH for a branch, repo:ORG/REPO:ref:refs/tags/TAG for a tag, "+
			"repo:ORG/REPO:environment:NAME for a job with an environment, repo:ORG/REPO:pull_request for a pull request. Add a credential with that subject "+
			"(issuer https://token.actions.githubusercontent.com, audience api://AzureADTokenExchange), or run the workflow from the branch or environment a credential trusts; the match is exact and case-sensitive",
			e.ClientID, e.presented(), e.AssertionSubject)
	case e.HasCode(700213):
		return fmt.Sprintf("no federated credential of app %s has the assertion's subject; %s. Use the managed identity's object (principal) ID, not its client ID; %s", e.ClientID, e.presented(), ficAdvice)
	case e.HasCode(70021):
		return fmt.Sprintf("no federated credential of app %s matches the assertion; %s. Add a federated credential with exactly these values; %s. A credential created in the last minutes may still be propagating", e.ClientID, e.presented(), ficAdvice)
	case e.HasCode(700024):
		return fmt.Sprintf("the client assertion is outside its validity period (not before %s, expires %s, local clock %s): check the clock of this machine, and that the assertion source does not serve an expired token",
			fmtTime(e.AssertionNotBefore), fmtTime(e.AssertionExpiresOn), now.UTC().Format(time.RFC3339))
	case e.HasCode(700027):
		return "Entra could not verify the client assertion's signature: its issuer may have rotated its signing keys since the assertion was issued, or (for an issuer outside Entra) " +
			"the issuer's keys are unreachable or lack the assertion's kid. The credential fetches a new assertion once when this happens; if the error persists, the assertion source keeps returning assertions Entra cannot verify"
	case e.HasCode(50027):
		return "the client assertion is not a valid JWT: the assertion source must return the token itself (three base64url segments), not a JSON response, a file path or a quoted string"
	case e.HasCode(90002):
		return fmt.Sprintf("tenant %q was not found at %s: check the tenant ID or domain for typos, and that the authority host matches the tenant's cloud (public, US Government, China)", e.Tenant, e.Authority)
	case e.HasCode(7000215):
		return "Entra rejected the client credential: the request must carry the assertion as client_assertion with client_assertion_type jwt-bearer, and the assertion must be a JWT for audience api://AzureADTokenExchange"
	case e.HasCode(7000216):
		return "the request carried no client assertion: the assertion source returned an empty token"
	case e.HasCode(500011):
		return fmt.Sprintf("no resource named by scope %q exists in tenant %s: check the resource's spelling (an app ID URI such as api://my-api, or a URL such as https://graph.microsoft.com), "+
			"and for another organisation's API that the tenant has a service principal for it (an administrator consents to the resource's app first)", e.Scope, e.Tenant)
	case e.HasCode(70011), e.HasCode(1002012):
		return fmt.Sprintf("scope %q is not valid for an app-only token: request one resource per token as \"{resource}/.default\", for example \"https://graph.microsoft.com/.default\"", e.Scope)
	}
	return ""
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}
