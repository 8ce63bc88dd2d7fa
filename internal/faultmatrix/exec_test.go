package faultmatrix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// childEnv marks the test binary run by `fakemsi exec` as the workload.
const childEnv = "FAULTMATRIX_EXEC_CHILD"

// TestExecChild is the workload that TestFaultMatrixThroughFakemsiExec runs
// under `fakemsi exec`: it builds the chain from the environment block alone,
// as a program on Azure would, lists the devices of the first tenant of
// FAKEMSI_TENANTS and prints one RESULT line. Run directly, it does nothing.
func TestExecChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("the workload of TestFaultMatrixThroughFakemsiExec")
	}
	n, err := childChain()
	switch {
	case err == nil:
		fmt.Printf("RESULT devices=%d\n", n)
	default:
		fmt.Printf("RESULT %s\n", describe(err))
	}
}

func childChain() (int, error) {
	cred, err := federated.NewFromEnvironment(&federated.Options{ClientOptions: policy.ClientOptions{
		Retry: policy.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: 2 * time.Second},
	}})
	if err != nil {
		return 0, err
	}
	tenant, _, _ := strings.Cut(os.Getenv("FAKEMSI_TENANTS"), ",")
	opts := &graphlite.Options{BaseURL: os.Getenv("FAKEMSI_GRAPH_URL")}
	opts.Retry.RetryDelay = time.Millisecond
	g, err := graphlite.New(cred.ForTenant(tenant), opts)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	n := 0
	for _, err := range g.Devices(ctx, nil) {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// describe names an error by its type and status, the way the cells check it.
func describe(err error) string {
	var re *assertion.ResponseError
	var ae *federated.AuthError
	var ge *graphlite.Error
	switch {
	case errors.As(err, &re):
		return fmt.Sprintf("assertion.ResponseError=%d", re.StatusCode)
	case errors.As(err, &ae):
		return fmt.Sprintf("federated.AuthError=%d", ae.StatusCode)
	case errors.As(err, &ge):
		return fmt.Sprintf("graphlite.Error=%d", ge.StatusCode)
	}
	return "error=" + leak.Clip(err.Error(), 200)
}

// TestFaultMatrixThroughFakemsiExec runs a row of the matrix through the
// emulator as a program: `fakemsi exec --fault SPEC -- workload`, where the
// workload (this test binary, TestExecChild) finds everything through the
// environment block that fakemsi gives it.
func TestFaultMatrixThroughFakemsiExec(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/fakemsi")
	}
	bin := filepath.Join(t.TempDir(), "fakemsi")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/tenantbridge/tenantbridge/cmd/fakemsi").CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/fakemsi: %v\n%s", err, out)
	}
	for _, tt := range []struct{ fault, want string }{
		{"", "RESULT devices="},
		{"msi:reset:count=1", "RESULT devices="},
		{"msi:503:count=1", "RESULT devices="},
		{"token:503:count=1", "RESULT devices="},
		{"token:429:retry-after=1:count=1", "RESULT devices="},
		{"graph:429:retry-after=1:count=1", "RESULT devices="},
		{"graph:502:count=1", "RESULT devices="},
		{"msi:500", "RESULT assertion.ResponseError=500"},
		{"token:500", "RESULT federated.AuthError=500"},
		{"graph:500", "RESULT graphlite.Error=500"},
		{"token:body=malformed:count=1", "RESULT error=graphlite: GET /v1.0/devices: federated: token response from"},
	} {
		t.Run(tt.fault, func(t *testing.T) {
			args := []string{"exec"}
			if tt.fault != "" {
				args = append(args, "--fault", tt.fault)
			}
			args = append(args, "--", os.Args[0], "-test.run=^TestExecChild$", "-test.v")
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = append(os.Environ(), childEnv+"=1")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var result string
			for _, line := range strings.Split(stdout.String(), "\n") {
				if strings.HasPrefix(line, "RESULT ") {
					result = line
				}
			}
			if !strings.HasPrefix(result, tt.want) {
				t.Errorf("fakemsi exec --fault %q: got %q (exit %v), want %q\nstderr: %s", tt.fault, leak.Redact(result), err,
					tt.want, leak.Clip(stderr.String(), 2000))
			}
			if strings.HasPrefix(tt.want, "RESULT devices=") && result == "RESULT devices=0" {
				t.Error("no devices listed")
			}
			t.Logf("| `%s` | %s |", tt.fault, strings.TrimPrefix(result, "RESULT "))
		})
	}
}
