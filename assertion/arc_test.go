package assertion

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testArcKey = "arc-key-5e1d-do-not-print"

// arcAgent answers like the Connected Machine agent: 401 with a challenge
// naming realm, then the token for a request carrying "Basic <key>".
func arcAgent(t *testing.T, realm, key string) *fakeEndpoint {
	return newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("Metadata") != "true" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		switch r.Header.Get("Authorization") {
		case "":
			w.Header().Set("WWW-Authenticate", "Basic realm="+realm)
			w.WriteHeader(http.StatusUnauthorized)
		case "Basic " + key:
			imdsJSON(w, "1795773600")
		default:
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"unauthorized","error_description":"key %s is wrong"}`, r.Header.Get("Authorization"))
		}
	})
}

func writeKey(t *testing.T, path, key string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
}

func checkNoArcKey(t *testing.T, what, s string) {
	t.Helper()
	checkNoSecret(t, what, s)
	if strings.Contains(s, testArcKey) {
		t.Errorf("%s contains the Arc key", what)
	}
}

func TestAzureArcChallenge(t *testing.T) {
	clearIdentityEnv(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "0f4c.key")
	writeKey(t, keyFile, testArcKey+"\n")
	agent := arcAgent(t, keyFile, testArcKey)
	t.Setenv("IDENTITY_ENDPOINT", agent.URL+"/metadata/identity/oauth2/token")
	t.Setenv("IMDS_ENDPOINT", agent.URL)
	src, err := AzureArc(&AzureArcOptions{KeyDirectory: dir})
	if err != nil {
		t.Fatal(err)
	}
	a, err := src.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a.Token != testToken {
		t.Error("wrong token")
	}
	reqs := agent.requests()
	if len(reqs) != 2 {
		t.Fatalf("agent saw %d requests, want the challenge and the answer", len(reqs))
	}
	for i, r := range reqs {
		want := map[string][]string{"api-version": {"2019-11-01"}, "resource": {"api://AzureADTokenExchange"}}
		if diff := cmp.Diff(want, map[string][]string(r.Query)); diff != "" {
			t.Errorf("request %d query (-want +got):\n%s", i, diff)
		}
	}
	if reqs[0].Header.Get("Authorization") != "" {
		t.Error("the first request carried an Authorization header")
	}
	checkNoArcKey(t, "String()", fmt.Sprint(src))
}

func TestAzureArcRefusesKeyFiles(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	secretFile := filepath.Join(outside, "secret.key")
	writeKey(t, secretFile, testArcKey)
	escaping := filepath.Join(dir, "escape.key")
	if err := os.Symlink(secretFile, escaping); err != nil {
		t.Skip("no symlinks here:", err)
	}
	big := filepath.Join(dir, "big.key")
	writeKey(t, big, strings.Repeat("k", 4097))
	noExt := filepath.Join(dir, "token")
	writeKey(t, noExt, testArcKey)
	sub := filepath.Join(dir, "sub.key")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.key")
	writeKey(t, empty, "")
	cases := []struct {
		name, challenge, want string
	}{
		{"outside the directory", "Basic realm=" + secretFile, "not in the agent's key directory"},
		{"dot-dot out of the directory", "Basic realm=" + dir + "/../" + filepath.Base(outside) + "/secret.key", "not in the agent's key directory"},
		{"symlink leaving the directory", "Basic realm=" + escaping, "escape.key"},
		{"larger than 4 KiB", "Basic realm=" + big, "more than the 4096"},
		{"no .key extension", "Basic realm=" + noExt, ".key extension"},
		{"a directory", "Basic realm=" + sub, "not a regular file"},
		{"empty", "Basic realm=" + empty, "is empty"},
		{"relative path", "Basic realm=x.key", "not an absolute path"},
		{"missing", "Basic realm=" + filepath.Join(dir, "gone.key"), "gone.key"},
		{"no challenge", "", "without a Basic challenge"},
		{"another scheme", "Bearer realm=" + dir + "/a.key", "without a Basic challenge"},
		{"no realm", "Basic charset=UTF-8", "names no key file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			agent := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if r.Header.Get("Authorization") != "" {
					t.Error("a key was sent")
					imdsJSON(w, "1795773600")
					return
				}
				if tc.challenge != "" {
					w.Header().Set("WWW-Authenticate", tc.challenge)
				}
				w.WriteHeader(http.StatusUnauthorized)
			})
			src, err := AzureArc(&AzureArcOptions{Endpoint: agent.URL + "/metadata/identity/oauth2/token", KeyDirectory: dir})
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Assertion(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			checkNoArcKey(t, "error", err.Error())
			if n := len(agent.requests()); n != 1 {
				t.Errorf("agent saw %d requests, want 1", n)
			}
		})
	}
}

func TestAzureArcWrongKeyIsAResponseErrorWithoutTheKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "k.key")
	writeKey(t, keyFile, testArcKey)
	agent := arcAgent(t, keyFile, "another key")
	logs := &logRecorder{}
	src, err := AzureArc(&AzureArcOptions{Endpoint: agent.URL + "/metadata/identity/oauth2/token", KeyDirectory: dir, Logger: logs.log})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Assertion(context.Background())
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized || re.Source != "AzureArc" || !strings.Contains(re.Hint, "one request") {
		t.Fatalf("error %v, want a 401 *ResponseError from AzureArc", err)
	}
	checkNoArcKey(t, "error", err.Error())
	checkNoArcKey(t, "log", logs.all())
}

func TestAzureArcRefusesSelectors(t *testing.T) {
	for _, id := range []ManagedIDKind{ClientID("c"), ObjectID("o"), ResourceID("/subscriptions/s")} {
		_, err := AzureArc(&AzureArcOptions{Endpoint: "http://127.0.0.1:40342/metadata/identity/oauth2/token", ID: id})
		if !errors.Is(err, ErrUserAssignedNotSupported) {
			t.Errorf("ID %T: error %v, want ErrUserAssignedNotSupported", id, err)
		}
	}
}

func TestArcKeyDirectory(t *testing.T) {
	// The agent's directory on this platform; tests run on Linux.
	if got := ArcKeyDirectory(); got != "/var/opt/azcmagent/tokens" {
		t.Skipf("not Linux: %q", got)
	}
	src, err := AzureArc(&AzureArcOptions{Endpoint: "http://127.0.0.1:40342/metadata/identity/oauth2/token"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(src), "/var/opt/azcmagent/tokens") {
		t.Errorf("default key directory not used: %v", src)
	}
}
