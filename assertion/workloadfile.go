package assertion

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
)

// WorkloadFile returns a [Source] that reads the projected service-account
// token of AKS workload identity (or any file holding one JWT). An empty path
// reads AZURE_FEDERATED_TOKEN_FILE.
//
// The kubelet rewrites the file before the token expires, so the source
// re-reads it when its size or modification time changes, at least once a
// minute (coarse file-system timestamps can hide a same-size rewrite), and
// whenever the token it holds has expired. It never returns a token whose exp
// has passed: it returns an error naming the file instead.
func WorkloadFile(path string) (Source, error) {
	return newWorkloadFile(path, time.Now)
}

func newWorkloadFile(path string, now func() time.Time) (*workloadFile, error) {
	if path == "" {
		path = os.Getenv("AZURE_FEDERATED_TOKEN_FILE")
	}
	if path == "" {
		return nil, errors.New("assertion: WorkloadFile: no path: set AZURE_FEDERATED_TOKEN_FILE or pass the token file's path")
	}
	return &workloadFile{path: path, now: now}, nil
}

// recheckEvery bounds how long a file is trusted on size and mtime alone.
const recheckEvery = time.Minute

// maxTokenFileBytes bounds the file read; a projected token is about 1 KiB.
const maxTokenFileBytes = 64 << 10

type workloadFile struct {
	path string
	now  func() time.Time

	mu   sync.Mutex // guards last; the file is small and this is not a hot path (wrap with Cached)
	last *tokenFileSnapshot
}

type tokenFileSnapshot struct {
	size    int64
	modTime time.Time
	readAt  time.Time
	a       Assertion
}

// Assertion returns the file's token with ExpiresOn from its exp claim.
func (w *workloadFile) Assertion(ctx context.Context) (Assertion, error) {
	if err := ctx.Err(); err != nil {
		return Assertion{}, err
	}
	now := w.now()
	fi, err := os.Stat(w.path)
	if err != nil {
		return Assertion{}, fmt.Errorf("assertion: WorkloadFile: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if l := w.last; l != nil && l.size == fi.Size() && l.modTime.Equal(fi.ModTime()) &&
		now.Sub(l.readAt) < recheckEvery && now.Before(l.a.ExpiresOn) {
		return l.a, nil
	}
	a, err := w.read()
	if err != nil {
		w.last = nil
		return Assertion{}, err
	}
	if !now.Before(a.ExpiresOn) {
		w.last = nil
		return Assertion{}, fmt.Errorf("assertion: WorkloadFile: the token in %s expired at %s; the file is not being refreshed (is the service account token volume still projected?)", w.path, a.ExpiresOn.UTC().Format(time.RFC3339))
	}
	w.last = &tokenFileSnapshot{size: fi.Size(), modTime: fi.ModTime(), readAt: now, a: a}
	return a, nil
}

// read loads and parses the file. Errors name the file, never its content.
func (w *workloadFile) read() (Assertion, error) {
	f, err := os.Open(w.path)
	if err != nil {
		return Assertion{}, fmt.Errorf("assertion: WorkloadFile: %w", err)
	}
	defer f.Close()
	b, err := bodylimit.Read(f, maxTokenFileBytes)
	if errors.Is(err, bodylimit.ErrTooLarge) {
		return Assertion{}, fmt.Errorf("assertion: WorkloadFile: %s is larger than %s; it should hold one JWT: %w", w.path, bodylimit.Size(maxTokenFileBytes), err)
	}
	if err != nil {
		return Assertion{}, fmt.Errorf("assertion: WorkloadFile: reading %s: %w", w.path, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return Assertion{}, fmt.Errorf("assertion: WorkloadFile: %s is empty", w.path)
	}
	exp, err := jwtpeek.Expiry(tok)
	if err != nil {
		return Assertion{}, fmt.Errorf("assertion: WorkloadFile: %s: %w", w.path, err)
	}
	return Assertion{Token: tok, ExpiresOn: exp}, nil
}

// String names the file, never its content.
func (w *workloadFile) String() string { return "assertion.WorkloadFile(" + w.path + ")" }

// GoString keeps %#v from printing the token read last.
func (w *workloadFile) GoString() string { return w.String() }
