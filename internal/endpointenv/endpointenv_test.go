package endpointenv

import (
	"os"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		raw, want string // want "" means an error
	}{
		{"https://127.0.0.1:8443/v1.0", "https://127.0.0.1:8443/v1.0"},
		{"https://graph.microsoft.com/v1.0/", "https://graph.microsoft.com/v1.0"},
		{"http://127.0.0.1:8443", ""},
		{"127.0.0.1:8443", ""},
		{"https://", ""},
		{"https://h/p?q=1", ""},
		{"https://h/p?", ""},
		{"https://u:secret@h/p", ""},
		{"https://h/p#f", ""},
		{" https://h/p", ""},
		{"https:opaque", ""},
	} {
		u, err := Parse("X", tc.raw)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("Parse(%q) = %s, want an error", tc.raw, u)
		case tc.want == "" && (!strings.HasPrefix(err.Error(), "X ") || strings.Contains(err.Error(), "secret")):
			t.Errorf("Parse(%q): error %q does not name X first, or quotes a password", tc.raw, err)
		case tc.want != "" && (err != nil || u.String() != tc.want):
			t.Errorf("Parse(%q) = %v, %v; want %s", tc.raw, u, err, tc.want)
		}
	}
}

func TestLookup(t *testing.T) {
	const name = "TENANTBRIDGE_ENDPOINTENV_TEST"
	t.Setenv(name, "")
	if _, err := Lookup(name); err == nil || !strings.Contains(err.Error(), name) {
		t.Errorf("empty value: err = %v, want one naming %s", err, name)
	}
	os.Unsetenv(name)
	if u, err := Lookup(name); u != nil || err != nil {
		t.Errorf("unset: %v, %v; want nil, nil", u, err)
	}
	t.Setenv(name, "https://127.0.0.1:1/x")
	if u, err := Lookup(name); err != nil || u.String() != "https://127.0.0.1:1/x" {
		t.Errorf("set: %v, %v", u, err)
	}
}
