package assertion

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: testNow} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// writeToken writes tok to path with the given modification time.
func writeToken(t *testing.T, path, tok string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestWorkloadFileRotation(t *testing.T) {
	clock := newFakeClock()
	path := filepath.Join(t.TempDir(), "azure-identity-token")
	first := makeJWT(t, testNow.Add(time.Hour))
	writeToken(t, path, first, testNow)
	src, err := newWorkloadFile(path, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	get := func() Assertion {
		t.Helper()
		a, err := src.Assertion(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := get(); a.Token != first || !a.ExpiresOn.Equal(testNow.Add(time.Hour)) {
		t.Fatalf("first read: wrong token or ExpiresOn %v", a.ExpiresOn)
	}

	// The kubelet writes a new token: a new mtime is noticed at once.
	clock.Advance(10 * time.Second)
	second := makeJWT(t, testNow.Add(2*time.Hour))
	writeToken(t, path, second, testNow.Add(10*time.Second))
	if a := get(); a.Token != second {
		t.Fatal("a rewritten file was not re-read")
	}

	// A same-size rewrite that keeps the mtime (coarse timestamps) is
	// noticed within recheckEvery.
	third := makeJWT(t, testNow.Add(2*time.Hour+time.Second))
	if len(third) != len(second) {
		t.Fatalf("test setup: tokens differ in size")
	}
	writeToken(t, path, third, testNow.Add(10*time.Second))
	if a := get(); a.Token != second {
		t.Fatal("the file was re-read although size and mtime were unchanged within recheckEvery")
	}
	clock.Advance(recheckEvery)
	if a := get(); a.Token != third {
		t.Fatal("the file was not re-read after recheckEvery")
	}
}

func TestWorkloadFileExpiry(t *testing.T) {
	clock := newFakeClock()
	path := filepath.Join(t.TempDir(), "token")
	tok := makeJWT(t, testNow.Add(time.Hour))
	writeToken(t, path, tok, testNow)
	src, err := newWorkloadFile(path, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Assertion(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour) // exp is reached: the token must not be served
	_, err = src.Assertion(context.Background())
	if err == nil {
		t.Fatal("an expired token was served")
	}
	for _, want := range []string{path, "expired at 2026-11-27T11:00:00Z"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), tok) {
		t.Error("error contains the token")
	}

	// The kubelet catches up: the new token is served.
	fresh := makeJWT(t, testNow.Add(2*time.Hour))
	writeToken(t, path, fresh, testNow.Add(time.Hour))
	a, err := src.Assertion(context.Background())
	if err != nil || a.Token != fresh {
		t.Fatalf("after rotation: err = %v, fresh token served = %v", err, a.Token == fresh)
	}
}

func TestWorkloadFileErrors(t *testing.T) {
	dir := t.TempDir()
	noExp := makeJWT(t, time.Time{})
	cases := []struct {
		name, content, want string
	}{
		{"empty", "", "is empty"},
		{"not a JWT", testToken + "-not-a-jwt", "malformed JWT"},
		{"no exp", noExp, "no exp claim"},
		{"too large", strings.Repeat("a", maxTokenFileBytes+1), "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			writeToken(t, path, tc.content, testNow)
			src, err := newWorkloadFile(path, newFakeClock().Now)
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Assertion(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error = %v, want one naming the file and containing %q", err, tc.want)
			}
			if tc.content != "" && strings.Contains(err.Error(), strings.TrimSpace(tc.content[:min(len(tc.content), 40)])) {
				t.Error("error quotes the file's content")
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		src, _ := newWorkloadFile(filepath.Join(dir, "absent"), time.Now)
		_, err := src.Assertion(context.Background())
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error = %v, want os.ErrNotExist", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		src, _ := newWorkloadFile(filepath.Join(dir, "absent"), time.Now)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := src.Assertion(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	})
}

func TestWorkloadFileFromEnvironment(t *testing.T) {
	clearIdentityEnv(t)
	if _, err := WorkloadFile(""); err == nil || !strings.Contains(err.Error(), "AZURE_FEDERATED_TOKEN_FILE") {
		t.Fatalf("error = %v, want one naming AZURE_FEDERATED_TOKEN_FILE", err)
	}
	path := filepath.Join(t.TempDir(), "token")
	tok := makeJWT(t, time.Now().Add(time.Hour))
	writeToken(t, path, tok, time.Now())
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", path)
	src, err := WorkloadFile("")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := src.(interface{ String() string }).String(), "assertion.WorkloadFile("+path+")"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	a, err := src.Assertion(context.Background())
	if err != nil || a.Token != tok {
		t.Fatalf("err = %v, right token = %v", err, a.Token == tok)
	}
}
