package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/leak"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// TestWaitForServe starts `wait` before `serve` exists, as a script that
// backgrounds serve does, and checks that wait returns 0 only once the env
// file is there and its listeners answer.
func TestWaitForServe(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "fake.env")
	w := startFakemsi(t, nil, "wait", "--env-file", envFile, "--timeout", "40s")
	s := startFakemsi(t, nil, "serve", "--env-file", envFile)
	if code := w.wait(); code != 0 {
		t.Fatalf("wait: exit code %d, want 0\nstderr:\n%s", code, redact(w.stderr.String()))
	}
	env := readEnvFile(t, envFile)
	for _, name := range []string{"AZURE_AUTHORITY_HOST", "FAKEMSI_GRAPH_URL", "IDENTITY_ENDPOINT"} {
		if env[name] == "" {
			t.Errorf("env file lacks %s after wait returned", name)
		}
	}
	c := clientFromEnvFile(t, envFile)
	resp, err := c.hc.Get(env["AZURE_AUTHORITY_HOST"] + "/" + env["AZURE_TENANT_ID"] + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("Entra listener after wait: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("discovery after wait: status %d", resp.StatusCode)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(); code != 0 {
		t.Errorf("serve: exit code %d", code)
	}
}

// TestWaitTimesOut covers the two ways of not being ready: no file, and a
// file left over from an earlier run whose listeners are gone. The message
// names the variable and address, never a value of the file.
func TestWaitTimesOut(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.env")
	r := runFakemsi(t, nil, "wait", "--env-file", missing, "--timeout", "200ms")
	if r.code != exitFailure || !strings.Contains(r.stderr, "missing.env not ready after 200ms") || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("wait for a missing file: exit code %d, stderr %q; want 1 and a reason", r.code, r.stderr)
	}

	// A port that was free a moment ago: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const header = "0123456789abcdef-identity-header"
	stale := filepath.Join(dir, "stale.env")
	content := "IDENTITY_ENDPOINT=http://" + addr + "/msi/token\nIDENTITY_HEADER=" + header + "\nAZURE_TENANT_ID=11111111-1111-1111-1111-111111111111\n"
	if err := os.WriteFile(stale, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runFakemsi(t, nil, "wait", "--env-file", stale, "--timeout", "300ms")
	if r.code != exitFailure || !strings.Contains(r.stderr, "IDENTITY_ENDPOINT ("+addr+") does not accept connections") {
		t.Errorf("wait for a stale file: exit code %d, stderr %q; want 1 naming IDENTITY_ENDPOINT", r.code, r.stderr)
	}
	if where := leak.Find(r.stderr, header); where != "" {
		t.Errorf("wait's error holds %s", where)
	}

	empty := filepath.Join(dir, "empty.env")
	if err := os.WriteFile(empty, []byte("AZURE_TENANT_ID=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runFakemsi(t, nil, "wait", "--env-file", empty, "--timeout", "100ms")
	if r.code != exitFailure || !strings.Contains(r.stderr, "names no listener") {
		t.Errorf("wait for a file without URLs: exit code %d, stderr %q", r.code, r.stderr)
	}
}

func TestWaitAndReadyFDUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"wait without a file", []string{"wait"}, "--env-file is required"},
		{"wait with a bad timeout", []string{"wait", "--env-file", "x", "--timeout", "0s"}, "not a positive duration"},
		{"wait with an argument", []string{"wait", "--env-file", "x", "extra"}, `unexpected argument "extra"`},
		{"ready-fd stdout", []string{"serve", "--ready-fd", "1"}, "want an extra descriptor"},
		{"ready-fd not open", []string{"serve", "--ready-fd", "97"}, "not an open file descriptor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runFakemsi(t, nil, tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", r.code, r.stderr, exitUsage, tc.want)
			}
		})
	}
}

// TestServeReadyFD starts serve the way a supervisor does, with a pipe as
// descriptor 3: the line "ready" arrives once the env file is complete and
// the descriptor is closed after it.
func TestServeReadyFD(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "fake.env")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.Command(fakemsiBin, "serve", "--env-file", envFile, "--ready-fd", "3")
	cmd.ExtraFiles = []*os.File{pw}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close() // ours; the child holds its own copy
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			testwait.Receive(t, done, "fakemsi serve to exit after SIGKILL")
		}
	})

	if err := pr.SetReadDeadline(time.Now().Add(cmdTimeout)); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(pr)
	line, err := rd.ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("read from --ready-fd: %q, %v; want \"ready\\n\"\nstderr:\n%s", line, err, redact(stderr.String()))
	}
	if rest, err := rd.ReadString('\n'); rest != "" || err == nil {
		t.Errorf("after the ready line: %q, %v; want EOF (descriptor closed)", rest, err)
	}
	env := readEnvFile(t, envFile)
	if env["AZURE_AUTHORITY_HOST"] == "" || env["FAKEMSI_GRAPH_URL"] == "" {
		t.Error("env file incomplete when ready was signalled")
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(env["AZURE_AUTHORITY_HOST"], "https://"))
	if err != nil {
		t.Fatalf("Entra listener when ready was signalled: %v", err)
	}
	c.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = testwait.Receive(t, done, "fakemsi serve to exit after SIGTERM")
	exited = true
	if err != nil {
		t.Errorf("serve after SIGTERM: %v\nstderr:\n%s", err, redact(stderr.String()))
	}
}
