package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
)

// tenantCredential is what the handler needs of *federated.Credential: a
// TokenCredential bound to one tenant, for Graph clients (azcore's
// BearerTokenPolicy cannot pass TokenRequestOptions.TenantID per request).
type tenantCredential interface {
	ForTenant(tenantID string) azcore.TokenCredential
}

// deps is everything the handler uses; main builds it from the environment,
// tests from fakeidp and graphtest.
type deps struct {
	Cred    tenantCredential
	Tenants []string           // allowed tenant IDs, lower case (parseTenants)
	Graph   *graphlite.Options // BaseURL, Transport; copied per tenant
	Log     *slog.Logger       // nil: discard
	// MaxDevices bounds one answer; 0 means defaultMaxDevices.
	MaxDevices int
	// Timeout bounds one request, token and all pages included; 0 means
	// defaultTimeout (below the Functions host's own HTTP timeout of 230 s).
	Timeout time.Duration
}

const (
	defaultMaxDevices = 10000
	defaultTimeout    = 60 * time.Second
)

// deviceFields is the $select of the listing: what the PowerShell original
// printed, and few enough properties to keep big tenants' answers small.
var deviceFields = []string{
	"id", "deviceId", "displayName", "operatingSystem", "operatingSystemVersion",
	"trustType", "accountEnabled", "isCompliant", "isManaged", "approximateLastSignInDateTime",
}

// handler serves GET /api/devices?tenant=ID. With enableForwardingHttpRequest
// the Functions host forwards the caller's request as is (path /api/devices,
// same query), after checking the function key.
type handler struct {
	clients    map[string]*graphlite.Client // one per allowed tenant, built at start
	log        *slog.Logger
	maxDevices int
	timeout    time.Duration
}

// newHandler builds one Graph client per allowed tenant, each on
// d.Cred.ForTenant(tenant), so that the tenants share one token cache and one
// assertion but a request can only ever reach a tenant of the list.
func newHandler(d deps) (http.Handler, error) {
	if d.Cred == nil {
		return nil, errors.New("newHandler: no credential")
	}
	if len(d.Tenants) == 0 {
		return nil, errors.New("newHandler: no allowed tenants")
	}
	h := &handler{
		clients:    make(map[string]*graphlite.Client, len(d.Tenants)),
		log:        d.Log,
		maxDevices: d.MaxDevices,
		timeout:    d.Timeout,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxDevices <= 0 {
		h.maxDevices = defaultMaxDevices
	}
	if h.timeout <= 0 {
		h.timeout = defaultTimeout
	}
	for _, t := range d.Tenants {
		c, err := graphlite.New(d.Cred.ForTenant(t), d.Graph)
		if err != nil {
			return nil, err
		}
		h.clients[strings.ToLower(t)] = c
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/devices", h)
	mux.HandleFunc("/api/devices", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, apiError{Code: "methodNotAllowed", Message: "use GET /api/devices?tenant=ID"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, apiError{Code: "notFound", Message: "this app serves GET /api/devices?tenant=ID"})
	})
	return mux, nil
}

// devicesResponse is the success body.
type devicesResponse struct {
	Tenant  string             `json:"tenant"`
	Count   int                `json:"count"`
	Devices []graphlite.Device `json:"devices"`
	// Truncated is true when the tenant has more than the app's limit.
	Truncated bool `json:"truncated,omitempty"`
}

// apiError is the body of every failure: {"error": {...}}. It carries the
// hints of federated.AuthError and graphlite.Error, never a token.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// ConsentURL is where an administrator of the tenant grants consent
	// (AADSTS700016).
	ConsentURL    string `json:"consentUrl,omitempty"`
	AADSTS        []int  `json:"aadsts,omitempty"`
	TraceID       string `json:"traceId,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
	RequestID     string `json:"requestId,omitempty"`
	Tenant        string `json:"tenant,omitempty"`
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	tenant := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("tenant")))
	status, body := h.serve(r.Context(), tenant)
	writeJSON(w, status, body)
	h.log.Info("devices", "tenant", clip(tenant), "status", status, "duration_ms", time.Since(start).Milliseconds())
}

func (h *handler) serve(ctx context.Context, tenant string) (int, any) {
	if tenant == "" {
		return http.StatusBadRequest, errorBody(apiError{Code: "missingTenant", Message: "the query parameter tenant is required: GET /api/devices?tenant={tenant ID}"})
	}
	client, ok := h.clients[tenant]
	if !ok {
		// No request leaves the app for a tenant outside ALLOWED_TENANTS:
		// the function key alone must not let a caller probe other tenants.
		return http.StatusBadRequest, errorBody(apiError{
			Code:    "tenantNotAllowed",
			Message: fmt.Sprintf("tenant %q is not in ALLOWED_TENANTS", clip(tenant)),
			Hint:    "add the tenant ID to the app setting ALLOWED_TENANTS (comma or semicolon separated) and restart the app",
		})
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	resp := devicesResponse{Tenant: tenant, Devices: []graphlite.Device{}}
	for d, err := range client.Devices(ctx, &graphlite.DevicesOptions{Select: deviceFields, Top: 999}) {
		if err != nil {
			status, e := classify(err)
			e.Tenant = tenant
			h.log.Warn("listing devices failed", "tenant", tenant, "status", status, "code", e.Code, "err", err)
			return status, errorBody(e)
		}
		if len(resp.Devices) == h.maxDevices {
			resp.Truncated = true
			break
		}
		resp.Devices = append(resp.Devices, d)
	}
	resp.Count = len(resp.Devices)
	return http.StatusOK, resp
}

// classify maps a failure to a status and an error body:
//
//   - 403 consentRequired: Entra answered AADSTS700016 (the app has no
//     service principal in the tenant: no admin consent yet), or Graph
//     answered 403 (consented, but without Device.Read.All). The caller
//     cannot fix these by retrying; an administrator of that tenant can.
//   - 502 authFailed / graphError: Entra or Graph refused for another reason
//     (federated credential mismatch, throttling, outage): the fault is
//     upstream of this app, not in the caller's request.
//   - 504 timeout: the request's time budget ran out.
func classify(err error) (int, apiError) {
	var ae *federated.AuthError
	var ge *graphlite.Error
	switch {
	case errors.As(err, &ae):
		e := apiError{
			Code:          "authFailed",
			Message:       oneLine(ae.Message),
			Hint:          ae.Hint,
			AADSTS:        ae.ErrorCodes,
			TraceID:       ae.TraceID,
			CorrelationID: ae.CorrelationID,
		}
		if e.Message == "" {
			e.Message = fmt.Sprintf("Microsoft Entra refused the token request (HTTP %d %s)", ae.StatusCode, ae.Code)
		}
		if ae.HasCode(700016) {
			e.Code = "consentRequired"
			e.ConsentURL = consentURL(ae.Authority, ae.Tenant, ae.ClientID)
			return http.StatusForbidden, e
		}
		return http.StatusBadGateway, e
	case errors.As(err, &ge):
		e := apiError{Code: "graphError", Message: ge.Code + ": " + ge.Message, Hint: ge.Hint, RequestID: ge.RequestID}
		if ge.StatusCode == http.StatusForbidden {
			e.Code = "consentRequired"
			return http.StatusForbidden, e
		}
		return http.StatusBadGateway, e
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, apiError{Code: "timeout", Message: "listing the devices took too long"}
	default:
		// Assertion failures (no managed identity here, wrong endpoint) and
		// transport errors. Their text is safe: no package of ours puts a
		// token in an error.
		return http.StatusBadGateway, apiError{Code: "upstreamFailed", Message: oneLine(err.Error())}
	}
}

// consentURL is the admin-consent endpoint of the tenant for the app
// (learn.microsoft.com: "Grant tenant-wide admin consent to an application").
func consentURL(authority, tenant, clientID string) string {
	if authority == "" {
		authority = "https://login.microsoftonline.com"
	}
	return strings.TrimRight(authority, "/") + "/" + url.PathEscape(tenant) + "/adminconsent?client_id=" + url.QueryEscape(clientID)
}

func errorBody(e apiError) any { return map[string]apiError{"error": e} }

func writeError(w http.ResponseWriter, status int, e apiError) { writeJSON(w, status, errorBody(e)) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// clip bounds what is echoed of caller input.
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
