package assertion

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewResponseError(t *testing.T) {
	long := strings.Repeat("é", maxDescription)
	cases := []struct {
		name   string
		source string
		status int
		body   string
		want   ResponseError
	}{
		{"IMDS shape", imdsName, 400, `{"error":"invalid_request","error_description":"Identity not found"}`,
			ResponseError{Source: imdsName, StatusCode: 400, Code: "invalid_request", Message: "Identity not found", Identity: "client_id=c",
				Hint: "the identity client_id=c is not assigned to this resource, or the selector names another identity"}},
		{"App Service shape", appServiceName, 401, `{"statusCode":401,"message":"X-IDENTITY-HEADER mismatch: ` + testHeader + `","correlationId":"x"}`,
			ResponseError{Source: appServiceName, StatusCode: 401, Code: "401", Message: "X-IDENTITY-HEADER mismatch: [redacted]", Identity: "client_id=c",
				Hint: "the identity header was rejected: check that IDENTITY_HEADER (or MSI_SECRET) is the value the platform set next to IDENTITY_ENDPOINT (or MSI_ENDPOINT)"}},
		{"control characters", imdsName, 500, `{"error":"e","error_description":"line1\nline2\u0000"}`,
			ResponseError{Source: imdsName, StatusCode: 500, Code: "e", Message: "line1 line2", Identity: "client_id=c",
				Hint: "the managed-identity endpoint failed; retries were exhausted"}},
		{"clipped", imdsName, 418, `{"error":"e","error_description":"` + long + `"}`,
			ResponseError{Source: imdsName, StatusCode: 418, Code: "e", Message: strings.Repeat("é", maxDescription/2) + "…", Identity: "client_id=c"}},
		{"JWT echoed", imdsName, 500, `{"error":"e","error_description":"bad token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}`,
			ResponseError{Source: imdsName, StatusCode: 500, Code: "e", Message: "bad token [jwt redacted]", Identity: "client_id=c",
				Hint: "the managed-identity endpoint failed; retries were exhausted"}},
		// issue 11, finding 3: every field, not only error_description.
		{"JWT echoed in message and statusCode", appServiceName, 500, `{"statusCode":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl","message":"echo eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl ` + testHeader + `"}`,
			ResponseError{Source: appServiceName, StatusCode: 500, Code: "[jwt redacted]", Message: "echo [jwt redacted] [redacted]", Identity: "client_id=c",
				Hint: "the managed-identity endpoint failed; retries were exhausted"}},
		{"JWT echoed in error", imdsName, 500, `{"error":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl","error_description":"x"}`,
			ResponseError{Source: imdsName, StatusCode: 500, Code: "[jwt redacted]", Message: "x", Identity: "client_id=c",
				Hint: "the managed-identity endpoint failed; retries were exhausted"}},
		{"HTML", appServiceName, 502, `<html>Bad gateway</html>`,
			ResponseError{Source: appServiceName, StatusCode: 502, Identity: "client_id=c", Hint: "the managed-identity endpoint failed; retries were exhausted"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := newResponseError(tc.source, tc.status, []byte(tc.body), "client_id=c", testHeader)
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", strings.ReplaceAll(diff, testHeader, "<header>"))
			}
			checkNoSecret(t, "Error()", got.Error())
		})
	}
}

func TestResponseErrorMessage(t *testing.T) {
	e := &ResponseError{Source: imdsName, StatusCode: 400, Code: "invalid_request", Message: "Identity not found", Identity: "object_id=o", Hint: "h"}
	want := "assertion: IMDS: 400 Bad Request: invalid_request: Identity not found (identity object_id=o); h"
	if got := e.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
