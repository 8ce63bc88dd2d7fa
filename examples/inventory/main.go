// Command inventory lists the devices of every Microsoft Entra tenant an
// app may read, with no secret anywhere: the host's managed identity (or
// workload identity file) is traded for a token of the multi-tenant app in
// each tenant (workload identity federation), and Microsoft Graph is swept
// tenant by tenant, many at a time, pausing when Graph throttles.
//
//	inventory [-format jsonl|csv] [-o FILE] [-tenants ID,ID,...] [-parallelism 32]
//	          [-tenant-timeout 5m] [-delta-state FILE] [-graph-url URL] [-progress auto|on|off]
//
// It writes one device per line (JSON Lines, or CSV with a header), each with
// its tenant, shows progress on stderr (a bar on a terminal, plain lines
// otherwise), and ends with a summary of every tenant: devices, duration,
// and for a failure its AADSTS code and the fix (for AADSTS700016, the
// admin-consent URL). It exits 0 when every tenant was read, 2 when some
// failed, 1 when it could not start.
//
// The tenants are -tenants, else ALLOWED_TENANTS (as examples/functionapp),
// else AZURE_ADDITIONALLY_ALLOWED_TENANTS (unless "*"), else FAKEMSI_TENANTS
// (set by fakemsi exec); commas or semicolons separate them. The credential
// reads its own settings (AZURE_TENANT_ID, AZURE_CLIENT_ID, IDENTITY_ENDPOINT,
// ...) from the environment, and graphlite its endpoint (Graph's, unless
// TENANTBRIDGE_GRAPH_URL or -graph-url says otherwise), so the same binary
// runs in Azure and under fakemsi exec:
//
//	fakemsi exec -- inventory
//
// With -delta-state FILE, the sweep uses Graph's delta query: the first run
// lists every device and stores each tenant's delta link in FILE; the next
// runs write only the devices added, changed or removed ("removed": true)
// since.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/federated"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}

// transports replace the HTTP transports to Entra and Graph in tests; nil
// fields (production) mean the SDK's defaults. cred, when set, is used
// instead of one from the environment (benchmarks reuse one across sweeps
// to measure a warm token cache).
type transports struct {
	entra, graph policy.Transporter
	cred         *federated.Credential
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, tr *transports) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "inventory:", err)
		return 1
	}
	if tr == nil {
		tr = &transports{}
	}
	out := stdout
	if cfg.output != "" && cfg.output != "-" {
		f, err := os.Create(cfg.output)
		if err != nil {
			fmt.Fprintln(stderr, "inventory:", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	sum, err := sweep(ctx, cfg, out, stderr, tr)
	if err != nil {
		fmt.Fprintln(stderr, "inventory:", err)
		return 1
	}
	sum.write(stderr)
	if sum.failed > 0 {
		return 2
	}
	return 0
}
