// Command functionapp-azidentity is examples/functionapp written the way
// people write it today: azidentity's ManagedIdentityCredential feeding a
// ClientAssertionCredential, and plain net/http for Microsoft Graph. Same
// route (GET /api/devices?tenant=ID), same app settings (ALLOWED_TENANTS,
// GRAPH_URL, FUNCTIONS_CUSTOMHANDLER_PORT), same JSON answers and errors.
//
// It exists to be measured against examples/functionapp (scripts/binsize.sh,
// docs/performance.md), so it stays a faithful equivalent: one credential
// for the process, tokens cached per tenant by azidentity, every page of
// @odata.nextLink followed, 429 and 503 retried after Retry-After, a time
// budget per request, no token in any answer or log line.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

const (
	defaultGraphURL   = "https://graph.microsoft.com/v1.0"
	graphScope        = "https://graph.microsoft.com/.default"
	exchangeScope     = "api://AzureADTokenExchange/.default"
	defaultMaxDevices = 10000
	requestTimeout    = 60 * time.Second
	maxPageBytes      = 16 << 20
	maxRetries        = 3
	maxRetryAfter     = 30 * time.Second
)

// deviceFields is the $select of examples/functionapp.
var deviceFields = "id,deviceId,displayName,operatingSystem,operatingSystemVersion,trustType,accountEnabled,isCompliant,isManaged,approximateLastSignInDateTime"

// device has the selected properties with graphlite.Device's JSON names and
// types, so that the answer is byte for byte what examples/functionapp sends.
type device struct {
	ID                            string     `json:"id"`
	AccountEnabled                *bool      `json:"accountEnabled,omitempty"`
	ApproximateLastSignInDateTime *time.Time `json:"approximateLastSignInDateTime,omitempty"`
	DeviceID                      string     `json:"deviceId,omitempty"`
	DisplayName                   string     `json:"displayName,omitempty"`
	IsCompliant                   *bool      `json:"isCompliant,omitempty"`
	IsManaged                     *bool      `json:"isManaged,omitempty"`
	OperatingSystem               string     `json:"operatingSystem,omitempty"`
	OperatingSystemVersion        string     `json:"operatingSystemVersion,omitempty"`
	TrustType                     string     `json:"trustType,omitempty"`
}

type devicesResponse struct {
	Tenant    string   `json:"tenant"`
	Count     int      `json:"count"`
	Devices   []device `json:"devices"`
	Truncated bool     `json:"truncated,omitempty"`
}

type apiError struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	Hint          string `json:"hint,omitempty"`
	ConsentURL    string `json:"consentUrl,omitempty"`
	AADSTS        []int  `json:"aadsts,omitempty"`
	TraceID       string `json:"traceId,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
	RequestID     string `json:"requestId,omitempty"`
	Tenant        string `json:"tenant,omitempty"`
}

// graphError is Graph's error JSON.
type graphError struct {
	Status     int
	Code       string `json:"code"`
	Message    string `json:"message"`
	InnerError struct {
		RequestID string `json:"request-id"`
	} `json:"innerError"`
}

func (e *graphError) Error() string {
	return fmt.Sprintf("graph: %d %s: %s", e.Status, e.Code, e.Message)
}

type app struct {
	cred     *azidentity.ClientAssertionCredential
	graphURL string
	tenants  map[string]bool
	http     *http.Client
	log      *slog.Logger
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("functionapp stopped", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	port := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	if port == "" {
		port = "8080"
	}
	tenants, err := parseTenants(os.Getenv("ALLOWED_TENANTS"))
	if err != nil {
		return err
	}
	graphURL := defaultGraphURL
	if g := os.Getenv("GRAPH_URL"); g != "" {
		u, err := url.Parse(g)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("GRAPH_URL %q must be an https URL such as https://graph.microsoft.com/v1.0", g)
		}
		graphURL = strings.TrimRight(g, "/")
	}
	h, err := newHandler(tenants, graphURL, nil, nil, log)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Info("functionapp listening", "addr", srv.Addr, "tenants", len(tenants))
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler builds the app: one credential for the process, as in
// examples/functionapp. entra and graph replace the transports to Entra and
// Graph (tests); nil means the defaults. The rest of the credential's
// settings (IDENTITY_ENDPOINT, AZURE_AUTHORITY_HOST, ...) azidentity reads
// from the environment.
func newHandler(tenants map[string]bool, graphURL string, entra policy.Transporter, graph *http.Client, log *slog.Logger) (http.Handler, error) {
	// The system-assigned identity: AZURE_CLIENT_ID names the app
	// registration here, not a user-assigned identity.
	mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: policy.ClientOptions{Transport: entra}})
	if err != nil {
		return nil, err
	}
	getAssertion := func(ctx context.Context) (string, error) {
		tk, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{exchangeScope}})
		return tk.Token, err
	}
	var allowed []string
	for t := range tenants {
		allowed = append(allowed, t)
	}
	// Instance discovery is off so that, like federated, the first token
	// costs no discovery request (and the app runs under fakemsi, whose
	// authority is 127.0.0.1).
	cred, err := azidentity.NewClientAssertionCredential(os.Getenv("AZURE_TENANT_ID"), os.Getenv("AZURE_CLIENT_ID"), getAssertion,
		&azidentity.ClientAssertionCredentialOptions{
			ClientOptions:              policy.ClientOptions{Transport: entra},
			AdditionallyAllowedTenants: allowed,
			DisableInstanceDiscovery:   true,
		})
	if err != nil {
		return nil, err
	}
	if graph == nil {
		graph = &http.Client{}
	}
	a := &app{cred: cred, graphURL: graphURL, tenants: tenants, http: graph, log: log}
	mux := http.NewServeMux()
	mux.Handle("GET /api/devices", a)
	mux.HandleFunc("/api/devices", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, errorBody(apiError{Code: "methodNotAllowed", Message: "use GET /api/devices?tenant=ID"}))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody(apiError{Code: "notFound", Message: "this app serves GET /api/devices?tenant=ID"}))
	})
	return mux, nil
}

// parseTenants is examples/functionapp's: commas or semicolons, lower case,
// "*" refused.
func parseTenants(v string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, t := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "*" {
			return nil, errors.New(`ALLOWED_TENANTS must list tenant IDs; "*" is not accepted by this app`)
		}
		if t != "" {
			out[t] = true
		}
	}
	if len(out) == 0 {
		return nil, errors.New("ALLOWED_TENANTS is empty: set it to the tenant IDs this app may read, separated by commas or semicolons")
	}
	return out, nil
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	tenant := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("tenant")))
	status, body := a.serve(r.Context(), tenant)
	writeJSON(w, status, body)
	a.log.Info("devices", "tenant", clip(tenant), "status", status, "duration_ms", time.Since(start).Milliseconds())
}

func (a *app) serve(ctx context.Context, tenant string) (int, any) {
	if tenant == "" {
		return http.StatusBadRequest, errorBody(apiError{Code: "missingTenant", Message: "the query parameter tenant is required: GET /api/devices?tenant={tenant ID}"})
	}
	if !a.tenants[tenant] {
		return http.StatusBadRequest, errorBody(apiError{
			Code:    "tenantNotAllowed",
			Message: fmt.Sprintf("tenant %q is not in ALLOWED_TENANTS", clip(tenant)),
			Hint:    "add the tenant ID to the app setting ALLOWED_TENANTS (comma or semicolon separated) and restart the app",
		})
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp := devicesResponse{Tenant: tenant, Devices: []device{}}
	next := a.graphURL + "/devices?$select=" + deviceFields + "&$top=999"
	for next != "" && !resp.Truncated {
		tok, err := a.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tenant})
		if err != nil {
			return a.fail(tenant, err)
		}
		var page struct {
			NextLink string   `json:"@odata.nextLink"`
			Value    []device `json:"value"`
		}
		if err := a.get(ctx, next, tok.Token, &page); err != nil {
			return a.fail(tenant, err)
		}
		for _, d := range page.Value {
			if len(resp.Devices) == defaultMaxDevices {
				resp.Truncated = true
				break
			}
			resp.Devices = append(resp.Devices, d)
		}
		next = page.NextLink
	}
	resp.Count = len(resp.Devices)
	return http.StatusOK, resp
}

// get fetches one Graph page into out, retrying 429 and 503 after
// Retry-After (capped), or after 1, 2, 4 s when Graph gives none.
func (a *app) get(ctx context.Context, u, token string, out any) error {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		resp, err := a.http.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusOK {
			return json.Unmarshal(body, out)
		}
		ge := &graphError{Status: resp.StatusCode}
		var wrapped struct {
			Error *graphError `json:"error"`
		}
		wrapped.Error = ge
		if json.Unmarshal(body, &wrapped) != nil || ge.Code == "" {
			ge.Code, ge.Message = http.StatusText(resp.StatusCode), strings.TrimSpace(string(bytes.ToValidUTF8(body[:min(len(body), 200)], nil)))
		}
		if (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) || attempt == maxRetries {
			return ge
		}
		wait := time.Duration(1<<attempt) * time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		t := time.NewTimer(min(wait, maxRetryAfter))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

var aadstsCode = regexp.MustCompile(`AADSTS(\d+)`)

// fail maps an error to examples/functionapp's statuses and codes.
func (a *app) fail(tenant string, err error) (int, any) {
	status, e := http.StatusBadGateway, apiError{Code: "upstreamFailed", Message: oneLine(err.Error()), Tenant: tenant}
	var afe *azidentity.AuthenticationFailedError
	var ge *graphError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		status, e = http.StatusGatewayTimeout, apiError{Code: "timeout", Message: "listing the devices took too long", Tenant: tenant}
	case errors.As(err, &afe):
		// azidentity has no typed AADSTS codes: read them from the message.
		e.Code = "authFailed"
		for _, m := range aadstsCode.FindAllStringSubmatch(err.Error(), -1) {
			if n, err := strconv.Atoi(m[1]); err == nil && !containsInt(e.AADSTS, n) {
				e.AADSTS = append(e.AADSTS, n)
			}
		}
		if containsInt(e.AADSTS, 700016) {
			status, e.Code = http.StatusForbidden, "consentRequired"
			e.Hint = "an administrator of the tenant must grant admin consent to the app"
			e.ConsentURL = consentURL(tenant, os.Getenv("AZURE_CLIENT_ID"))
		}
	case errors.As(err, &ge):
		e = apiError{Code: "graphError", Message: ge.Code + ": " + ge.Message, RequestID: ge.InnerError.RequestID, Tenant: tenant}
		if ge.Status == http.StatusForbidden {
			status, e.Code = http.StatusForbidden, "consentRequired"
			e.Hint = "grant the application permission Device.Read.All to the app in this tenant (admin consent)"
		}
	}
	a.log.Warn("listing devices failed", "tenant", tenant, "status", status, "code", e.Code, "err", oneLine(err.Error()))
	return status, errorBody(e)
}

func consentURL(tenant, clientID string) string {
	authority := os.Getenv("AZURE_AUTHORITY_HOST")
	if authority == "" {
		authority = "https://login.microsoftonline.com"
	}
	return strings.TrimRight(authority, "/") + "/" + url.PathEscape(tenant) + "/adminconsent?client_id=" + url.QueryEscape(clientID)
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

func errorBody(e apiError) any { return map[string]apiError{"error": e} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 1024 {
		s = s[:1024] + "…"
	}
	return s
}
