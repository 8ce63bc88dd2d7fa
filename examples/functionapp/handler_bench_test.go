package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// BenchmarkDevicesWarm measures one GET /api/devices for the consented tenant
// (4 devices) with a cached token: the handler, graphlite and fake Graph over
// loopback TLS, JSON both ways. The handler is called directly, without an
// HTTP hop in front of it.
func BenchmarkDevicesWarm(b *testing.B) {
	e := newEnv(b, []string{fakeidp.DefaultConsentedTenantID})
	req := httptest.NewRequest(http.MethodGet, "/api/devices?tenant="+fakeidp.DefaultConsentedTenantID, nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, redact(w.Body.String()))
		}
	}
}
