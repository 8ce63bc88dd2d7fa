package graphlite_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"

	"github.com/tenantbridge/tenantbridge/graphlite"
)

// recordingLogger collects Logger entries.
type recordingLogger struct {
	mu      sync.Mutex
	entries []string
}

func (l *recordingLogger) log(ev log.Event, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, string(ev)+": "+msg)
}

func (l *recordingLogger) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.entries, "\n")
}

// TestBaseURLFromEnvironment: with BaseURL unset, New takes the endpoint
// from TENANTBRIDGE_GRAPH_URL (what fakemsi exec sets), and the requests go
// there; an explicit BaseURL wins; the choice is logged.
func TestBaseURLFromEnvironment(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"value": []}`))
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name, env, option string
		wantPath, wantLog string
	}{
		{"from the environment", srv.URL + "/v1.0", "", "/v1.0/devices", "Graph endpoint " + srv.URL + "/v1.0 (from TENANTBRIDGE_GRAPH_URL)"},
		{"trailing slash", srv.URL + "/beta/", "", "/beta/devices", "(from TENANTBRIDGE_GRAPH_URL)"},
		{"the option wins", "https://graph.invalid/v1.0", srv.URL + "/v1.0", "/v1.0/devices", "Graph endpoint " + srv.URL + "/v1.0 (from Options.BaseURL)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(graphlite.EnvGraphURL, tc.env)
			mu.Lock()
			paths = nil
			mu.Unlock()
			var logs recordingLogger
			c, err := graphlite.New(newCredential(tenantA, "Device.Read.All"), &graphlite.Options{
				BaseURL:       tc.option,
				Logger:        logs.log,
				ClientOptions: azcore.ClientOptions{Transport: srv.Client()},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Get(context.Background(), "/devices", nil, nil); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			got := strings.Join(paths, " ")
			mu.Unlock()
			if got != tc.wantPath {
				t.Errorf("server saw %q, want %q", got, tc.wantPath)
			}
			if l := logs.text(); !strings.Contains(l, tc.wantLog) || !strings.HasPrefix(l, string(graphlite.EventGraph)+": ") {
				t.Errorf("log %q, want a %s entry with %q", l, graphlite.EventGraph, tc.wantLog)
			}
		})
	}
}

// TestBaseURLDefault: without the option and the variable, Graph's public
// endpoint, and the log says so.
func TestBaseURLDefault(t *testing.T) {
	t.Setenv(graphlite.EnvGraphURL, "") // registers the restore
	unsetenv(t, graphlite.EnvGraphURL)
	var logs recordingLogger
	if _, err := graphlite.New(newCredential(tenantA), &graphlite.Options{Logger: logs.log}); err != nil {
		t.Fatal(err)
	}
	if want := "Graph endpoint " + graphlite.DefaultBaseURL + " (from the default of ClientOptions.Cloud)"; !strings.Contains(logs.text(), want) {
		t.Errorf("log %q lacks %q", logs.text(), want)
	}
}

// TestBaseURLFromEnvironmentRefusesGarbage: a value that is not an https URL
// fails New with an error naming the variable; it never falls back to
// another endpoint.
func TestBaseURLFromEnvironmentRefusesGarbage(t *testing.T) {
	for _, v := range []string{
		"",
		"   ",
		"http://127.0.0.1:8080/v1.0",
		"graph.microsoft.com/v1.0",
		"https://",
		"https://127.0.0.1:1/v1.0?x=1",
		"https://user:pw@127.0.0.1:1/v1.0",
		"https://127.0.0.1:1/v1.0#frag",
		"::not a url",
	} {
		t.Run(v, func(t *testing.T) {
			t.Setenv(graphlite.EnvGraphURL, v)
			_, err := graphlite.New(newCredential(tenantA), nil)
			if err == nil {
				t.Fatalf("New accepted %s=%q", graphlite.EnvGraphURL, v)
			}
			if !strings.Contains(err.Error(), graphlite.EnvGraphURL) {
				t.Errorf("error %q does not name %s", err, graphlite.EnvGraphURL)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("error %q quotes the URL's password", err)
			}
		})
	}
}

// unsetenv unsets name for the rest of the test; t.Setenv(name, ...) before
// it restores the old value afterwards.
func unsetenv(t *testing.T, name string) {
	t.Helper()
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}
