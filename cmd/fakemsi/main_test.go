package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests drive the fakemsi binary as a user would. TestMain builds it once;
// it also turns the test binary into the child process of exec tests when
// FAKEMSI_TEST_CHILD is set (see child_test.go).

var fakemsiBin string

func TestMain(m *testing.M) {
	if role := os.Getenv(childRoleEnv); role != "" {
		os.Exit(childMain(role))
	}
	dir, err := os.MkdirTemp("", "fakemsi-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakemsiBin = filepath.Join(dir, "fakemsi")
	build := exec.Command("go", "build", "-o", fakemsiBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building fakemsi:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cmdTimeout bounds every fakemsi run of the tests, so a hang fails the test
// instead of the whole package timing out without saying where.
const cmdTimeout = 45 * time.Second

// result is a finished fakemsi run.
type result struct {
	code           int
	stdout, stderr string
}

// runFakemsi runs the binary to completion with extra environment variables.
func runFakemsi(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, fakemsiBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("fakemsi %s: killed by %v (timeout?)\nstderr:\n%s", strings.Join(args, " "), ws.Signal(), redact(stderr.String()))
		}
	default:
		t.Fatalf("fakemsi %s: %v", strings.Join(args, " "), err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// running is a fakemsi process the test talks to while it runs.
type running struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string // stdout, line by line
	stderr *syncBuffer
	done   chan struct{}
}

// startFakemsi starts the binary and returns before it ends. Its stdout is
// read line by line through lines.
func startFakemsi(t *testing.T, env []string, args ...string) *running {
	t.Helper()
	cmd := exec.Command(fakemsiBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &running{t: t, cmd: cmd, lines: make(chan string, 256), stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = cmd.Process.Kill()
			testwait.Receive(t, r.done, "fakemsi exiting after it was killed")
		}
	})
	return r
}

// waitLine returns the stdout lines up to and including the first one with
// the prefix.
func (r *running) waitLine(prefix string) []string {
	r.t.Helper()
	var got []string
	timeout := time.After(cmdTimeout)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("stdout ended before a line starting with %q; got %s\nstderr:\n%s", prefix, redact(got), redact(r.stderr.String()))
			}
			got = append(got, l)
			if strings.HasPrefix(l, prefix) {
				return got
			}
		case <-timeout:
			r.t.Fatalf("no line starting with %q on stdout; got %s\nstderr:\n%s", prefix, redact(got), redact(r.stderr.String()))
		}
	}
}

// waitStderr waits until fakemsi has written s to stderr.
func (r *running) waitStderr(s string) {
	r.t.Helper()
	timeout := time.After(cmdTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(r.stderr.String(), s) {
		select {
		case <-tick.C:
		case <-r.done:
			if strings.Contains(r.stderr.String(), s) {
				return
			}
			r.t.Fatalf("fakemsi exited before writing %q to stderr:\n%s", s, redact(r.stderr.String()))
		case <-timeout:
			r.t.Fatalf("fakemsi wrote no %q to stderr:\n%s", s, redact(r.stderr.String()))
		}
	}
}

// wait waits for the process to end and returns its exit code.
func (r *running) wait() int {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(cmdTimeout):
		r.t.Fatalf("fakemsi did not exit\nstderr:\n%s", redact(r.stderr.String()))
	}
	// Drain stdout so that its goroutine ends.
	for range r.lines {
	}
	ps := r.cmd.ProcessState
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func (r *running) signal(sig os.Signal) {
	r.t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)
