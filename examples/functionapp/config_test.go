package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr string
	}{
		{
			name: "defaults",
			env:  map[string]string{"ALLOWED_TENANTS": "22222222-2222-2222-2222-222222222222"},
			want: config{port: "8080", tenants: []string{"22222222-2222-2222-2222-222222222222"}},
		},
		{
			name: "comma, semicolon, spaces, case and duplicates",
			env: map[string]string{
				"ALLOWED_TENANTS":              " AAAA-1 ,bbbb-2;aaaa-1;; ",
				"FUNCTIONS_CUSTOMHANDLER_PORT": "41234",
				"GRAPH_URL":                    "https://127.0.0.1:8443/v1.0/",
			},
			want: config{port: "41234", tenants: []string{"aaaa-1", "bbbb-2"}, graphURL: "https://127.0.0.1:8443/v1.0"},
		},
		{
			name: "whitespace and newlines",
			env:  map[string]string{"ALLOWED_TENANTS": "aaaa-1 bbbb-2\ncccc-3\t"},
			want: config{port: "8080", tenants: []string{"aaaa-1", "bbbb-2", "cccc-3"}},
		},
		{name: "no tenants", env: map[string]string{}, wantErr: "ALLOWED_TENANTS is empty"},
		{name: "only separators", env: map[string]string{"ALLOWED_TENANTS": " ; , "}, wantErr: "ALLOWED_TENANTS is empty"},
		{name: "wildcard refused", env: map[string]string{"ALLOWED_TENANTS": "a,*"}, wantErr: `"*" is not accepted`},
		{name: "http graph refused", env: map[string]string{"ALLOWED_TENANTS": "a", "GRAPH_URL": "http://127.0.0.1:1/v1.0"}, wantErr: "must be an https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("configFromEnv() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("configFromEnv() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(config{})); diff != "" {
				t.Errorf("configFromEnv() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
