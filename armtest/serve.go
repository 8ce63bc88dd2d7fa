package armtest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/fault"
	"github.com/tenantbridge/tenantbridge/internal/httpserver"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// statusWriter remembers the status a handler wrote.
type statusWriter = httpserver.StatusWriter

// recordKey is the context key of the *Request a request is recorded in, so
// that writeError notes ARM's error code wherever it is called from.
type recordKey struct{}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	began := time.Now() // real time: the latency is what the client waited
	// Clipped copies, never the request's own strings and maps: a client
	// sending megabyte requests must not make the log hold megabytes
	// (fault.MaxBytes bounds the whole log, these each record).
	rec := Request{Time: s.clock(), Listener: ListenerARM, Method: fault.ClipText(r.Method),
		URL: fault.ClipTextN(s.URL()+r.URL.RequestURI(), fault.MaxURLBytes), Path: fault.ClipText(r.URL.Path),
		RawQuery: fault.ClipTextN(r.URL.RawQuery, fault.MaxURLBytes), Header: fault.ClipValues(r.Header, secretHeader)}
	r = r.WithContext(context.WithValue(r.Context(), recordKey{}, &rec))
	sw := &statusWriter{ResponseWriter: w}
	// Deferred, so that a fault that resets the connection (a panic with
	// http.ErrAbortHandler) is recorded and logged too, with status 0.
	defer func() {
		rec.Status = sw.Status
		rec.Tenant = fault.ClipText(rec.Tenant)
		s.requests.Add(rec)
		s.logRequest(r.Context(), rec, time.Since(began))
	}()
	s.handle(sw, r, &rec)
}

// handle checks what ARM checks before routing, in its order: the
// api-version (answered even without a token), then the token.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, rec *Request) {
	reqID := newUUID()
	w.Header().Set("x-ms-request-id", reqID)
	w.Header().Set("x-ms-routing-request-id", "LOCAL:"+s.clock().UTC().Format("20060102T150405Z")+":"+reqID)
	corr := r.Header.Get("x-ms-correlation-request-id")
	if !isGUID(corr) {
		corr = reqID
	}
	w.Header().Set("x-ms-correlation-request-id", corr)
	if crid := r.Header.Get("x-ms-client-request-id"); crid != "" && len(crid) <= 128 {
		w.Header().Set("x-ms-client-request-id", leak.Clip(crid, 128))
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Date", s.clock().UTC().Format(http.TimeFormat))

	v := r.URL.Query().Get("api-version")
	switch {
	case v == "":
		s.writeError(w, r, http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		return
	case !apiVersion.MatchString(v):
		s.writeError(w, r, http.StatusBadRequest, "InvalidApiVersionParameter",
			fmt.Sprintf("The api-version '%s' is invalid. The supported versions are '%s'.", leak.Clip(v, 64), strings.Join(supportedVersions, ",")))
		return
	}
	p, err := s.authenticate(r)
	if err != nil {
		ae := err.(*authError)
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="`+ae.challenge+`"`)
		s.writeError(w, r, http.StatusUnauthorized, ae.code, ae.message)
		return
	}
	rec.Tenant = p.tenant
	if f, ok := s.faults.Take(fault.EndpointARM, r.URL.Path); ok {
		fault.Serve(w, r, f, func(w http.ResponseWriter) { s.writeFault(w, r, f) },
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.route(w, r, p) }))
		return
	}
	s.route(w, r, p)
}

// apiVersion is the shape of an ARM api-version: a date, maybe -preview.
var apiVersion = regexp.MustCompile(`^20[0-9]{2}-[01][0-9]-[0-3][0-9](-preview|-beta|-alpha)?$`)

// supportedVersions are the api-versions ARM names when it refuses one; the
// fake accepts any well-formed version.
var supportedVersions = []string{"2022-12-01", "2021-01-01", "2020-01-01", "2019-11-01", "2016-06-01", "2014-04-01"}

// route serves an authenticated request: the paths are case-insensitive, as
// ARM's are.
func (s *Server) route(w http.ResponseWriter, r *http.Request, p principal) {
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	for i := range seg {
		if u, err := url.PathUnescape(seg[i]); err == nil {
			seg[i] = u
		}
	}
	known := len(seg) == 1 && (strings.EqualFold(seg[0], "subscriptions") || strings.EqualFold(seg[0], "tenants")) ||
		len(seg) == 2 && strings.EqualFold(seg[0], "subscriptions") ||
		len(seg) == 3 && strings.EqualFold(seg[0], "subscriptions") && strings.EqualFold(seg[2], "resourcegroups") ||
		len(seg) == 4 && strings.EqualFold(seg[0], "subscriptions") && strings.EqualFold(seg[2], "resourcegroups")
	if !known {
		s.writeError(w, r, http.StatusNotFound, "InvalidResourceType",
			fmt.Sprintf("The resource path '%s' is not served by the fake Azure Resource Manager (it serves /subscriptions, /subscriptions/{id}, /subscriptions/{id}/resourcegroups[/{name}] and /tenants).", leak.Clip(r.URL.Path, 256)))
		return
	}
	if r.Method != http.MethodGet {
		s.writeError(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed",
			fmt.Sprintf("The requested method '%s' is not allowed; the fake Azure Resource Manager only reads.", leak.Clip(r.Method, 16)))
		return
	}
	switch {
	case len(seg) == 1 && strings.EqualFold(seg[0], "tenants"):
		s.listTenants(w, r, p)
	case len(seg) == 1:
		s.listSubscriptions(w, r, p)
	default:
		sub, ok := s.subscription(w, r, p, seg[1])
		if !ok {
			return
		}
		switch len(seg) {
		case 2:
			writeJSON(w, http.StatusOK, subscriptionJSON(sub))
		case 3:
			s.listResourceGroups(w, r, sub)
		case 4:
			for _, g := range sub.ResourceGroups {
				if strings.EqualFold(g.Name, seg[3]) {
					writeJSON(w, http.StatusOK, resourceGroupJSON(sub, g))
					return
				}
			}
			s.writeError(w, r, http.StatusNotFound, "ResourceGroupNotFound", fmt.Sprintf("Resource group '%s' could not be found.", leak.Clip(seg[3], 90)))
		}
	}
}

// subscription finds the subscription id for p, answering ARM's error when
// it does not exist or belongs to another tenant.
func (s *Server) subscription(w http.ResponseWriter, r *http.Request, p principal, id string) (*Subscription, bool) {
	if !isGUID(id) {
		s.writeError(w, r, http.StatusBadRequest, "InvalidSubscriptionId", fmt.Sprintf("The provided subscription identifier '%s' is malformed or invalid.", leak.Clip(id, 64)))
		return nil, false
	}
	sub := s.subs[strings.ToLower(id)]
	if sub == nil {
		s.writeError(w, r, http.StatusNotFound, "SubscriptionNotFound", fmt.Sprintf("The subscription '%s' could not be found.", id))
		return nil, false
	}
	if strings.ToLower(sub.TenantID) != p.tenant {
		// ARM names the tenant to ask instead, in the message and the challenge.
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.windows.net/`+sub.TenantID+`", error="invalid_token", error_description="The access token is from the wrong issuer."`)
		s.writeError(w, r, http.StatusUnauthorized, "InvalidAuthenticationTokenTenant",
			fmt.Sprintf("The access token is from the wrong issuer 'https://sts.windows.net/%s/'. It must match the tenant 'https://sts.windows.net/%s/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/%s' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.",
				p.tenant, sub.TenantID, sub.TenantID))
		return nil, false
	}
	return sub, true
}

func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request, p principal) {
	subs := s.byTenant[p.tenant]
	items := make([]any, len(subs))
	for i, sub := range subs {
		items[i] = subscriptionJSON(sub)
	}
	s.writePage(w, r, items, true)
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, p principal) {
	t, ok := s.tenants[p.tenant]
	if !ok {
		t = Tenant{ID: p.tenant}
	}
	m := map[string]any{
		"id":             "/tenants/" + t.ID,
		"tenantId":       t.ID,
		"tenantCategory": "Home",
	}
	if t.DisplayName != "" {
		m["displayName"] = t.DisplayName
	}
	if t.DefaultDomain != "" {
		m["defaultDomain"] = t.DefaultDomain
		m["domains"] = []string{t.DefaultDomain}
	}
	s.writePage(w, r, []any{m}, false)
}

func (s *Server) listResourceGroups(w http.ResponseWriter, r *http.Request, sub *Subscription) {
	items := make([]any, len(sub.ResourceGroups))
	for i, g := range sub.ResourceGroups {
		items[i] = resourceGroupJSON(sub, g)
	}
	s.writePage(w, r, items, false)
}

// writePage answers one page of items, {"value": [...], "nextLink": ...},
// the page chosen by $skiptoken (an offset in the fake). withCount adds the
// "count" object that ARM's subscription list carries.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, items []any, withCount bool) {
	q := r.URL.Query()
	off := 0
	if t := q.Get("$skiptoken"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(items) {
			s.writeError(w, r, http.StatusBadRequest, "InvalidSkipToken", "The provided skip token is invalid.")
			return
		}
		off = n
	}
	end := min(off+s.pageSize, len(items))
	body := map[string]any{"value": items[off:end]}
	if end < len(items) {
		q.Set("$skiptoken", strconv.Itoa(end))
		body["nextLink"] = s.URL() + r.URL.EscapedPath() + "?" + q.Encode()
	}
	if withCount {
		body["count"] = map[string]any{"type": "Total", "value": len(items)}
	}
	writeJSON(w, http.StatusOK, body)
}

func subscriptionJSON(sub *Subscription) map[string]any {
	state := sub.State
	if state == "" {
		state = "Enabled"
	}
	return map[string]any{
		"id":                  "/subscriptions/" + sub.ID,
		"authorizationSource": "RoleBased",
		"managedByTenants":    []any{},
		"subscriptionId":      sub.ID,
		"tenantId":            sub.TenantID,
		"displayName":         sub.DisplayName,
		"state":               state,
		"subscriptionPolicies": map[string]string{
			"locationPlacementId": "Public_2014-09-01",
			"quotaId":             "PayAsYouGo_2014-09-01",
			"spendingLimit":       "Off",
		},
	}
}

func resourceGroupJSON(sub *Subscription, g ResourceGroup) map[string]any {
	loc := g.Location
	if loc == "" {
		loc = "westeurope"
	}
	m := map[string]any{
		"id":         "/subscriptions/" + sub.ID + "/resourceGroups/" + g.Name,
		"name":       g.Name,
		"type":       "Microsoft.Resources/resourceGroups",
		"location":   loc,
		"properties": map[string]string{"provisioningState": "Succeeded"},
	}
	if len(g.Tags) > 0 {
		m["tags"] = g.Tags
	}
	return m
}

// writeError writes ARM's error JSON, {"error":{"code":..., "message":...}}.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	if rec, ok := r.Context().Value(recordKey{}).(*Request); ok {
		rec.Code = code
	}
	w.Header().Set("x-ms-failure-cause", "gateway")
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"The response could not be encoded."}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// logRequest writes the request's line, in the shape of fakeidp's and
// graphtest's. It is built from a Request, whose Authorization header is
// redacted, and logs neither headers nor the query.
func (s *Server) logRequest(ctx context.Context, rec Request, latency time.Duration) {
	level := slog.LevelInfo
	if rec.Status == 0 || rec.Status >= http.StatusBadRequest {
		level = slog.LevelWarn
	}
	if !s.logger.Enabled(ctx, level) {
		return
	}
	s.logger.LogAttrs(ctx, level, "armtest request",
		slog.String("listener", rec.Listener), slog.String("method", rec.Method), slog.String("path", leak.Clip(rec.Path, 256)),
		slog.Int("status", rec.Status), slog.String("error_code", rec.Code),
		slog.String("tenant", rec.Tenant), slog.Duration("latency", latency))
}

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isGUID(s string) bool { return guidPattern.MatchString(s) }

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// secretHeader tells which headers a Request keeps as "[redacted]".
func secretHeader(name string) bool {
	return strings.EqualFold(name, "Authorization") || strings.EqualFold(name, "Cookie")
}

// size estimates the memory a Request holds, for the request log's byte
// budget (fault.MaxBytes).
func (r *Request) size() int {
	return fault.RecordOverhead + fault.TextSize(r.Listener, r.Method, r.URL, r.Path, r.RawQuery, r.Tenant, r.Code) +
		fault.ValuesSize(r.Header)
}
