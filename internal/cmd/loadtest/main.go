// Command loadtest is `make load`: the load runs of internal/loadtest with
// the sizes of issue 11, on loopback only, each bounded in time. It prints
// one result per run and exits 1 when a run misses its criteria.
//
//	go run ./internal/cmd/loadtest                      # everything, about a minute
//	go run ./internal/cmd/loadtest -runs cache -cache-tenants 1000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/loadtest"
)

func main() {
	runs := flag.String("runs", "credential,emulator,cache", "comma-separated runs: credential, emulator, cache")
	credGoroutines := flag.Int("cred-goroutines", 10000, "credential run: concurrent GetToken callers")
	credTenants := flag.Int("cred-tenants", 100, "credential run: distinct tenants")
	credDuration := flag.Duration("cred-duration", 10*time.Second, "credential run: how long the callers call")
	tokenLifetime := flag.Duration("token-lifetime", 4*time.Second, "credential run: the emulator's access token lifetime (refreshed at half-life)")
	emuClients := flag.Int("emu-clients", 1000, "emulator run: concurrent clients, each on its own connections")
	emuDuration := flag.Duration("emu-duration", 30*time.Second, "emulator run: how long the clients send requests")
	cacheTenants := flag.Int("cache-tenants", 100000, "cache run: distinct tenants")
	keyBits := flag.Int("key-bits", 2048, "the emulator's RSA signing key size: 2048 (as Entra) or 1024")
	flag.Parse()

	host, _ := os.Hostname()
	fmt.Printf("loadtest %s; %s/%s, %d CPUs, %s; host %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), host)
	// Bounded whatever happens: every run has its own deadline, and this
	// one is above their sum.
	ctx, cancel := context.WithTimeout(context.Background(), *credDuration+*emuDuration+10*time.Minute)
	defer cancel()

	failed := false
	report := func(name string, r interface {
		String() string
		Failed() string
	}, err error) {
		if err != nil {
			fmt.Printf("%s: error: %v\n", name, err)
			failed = true
			return
		}
		fmt.Println(r.String())
		if f := r.Failed(); f != "" {
			fmt.Printf("%s: FAILED: %s\n", name, f)
			failed = true
		} else {
			fmt.Printf("%s: ok\n", name)
		}
	}
	for _, run := range strings.Split(*runs, ",") {
		switch strings.TrimSpace(run) {
		case "credential":
			r, err := loadtest.Credential(ctx, loadtest.CredentialConfig{Goroutines: *credGoroutines, Tenants: *credTenants,
				Duration: *credDuration, TokenLifetime: *tokenLifetime, SigningKeyBits: *keyBits})
			report("credential", r, err)
		case "emulator":
			r, err := loadtest.Emulator(ctx, loadtest.EmulatorConfig{Clients: *emuClients, Duration: *emuDuration, SigningKeyBits: *keyBits})
			report("emulator", r, err)
		case "cache":
			r, err := loadtest.Cache(ctx, loadtest.CacheConfig{Tenants: *cacheTenants})
			report("cache", r, err)
		default:
			fmt.Fprintf(os.Stderr, "loadtest: unknown run %q\n", run)
			os.Exit(2)
		}
	}
	if failed {
		os.Exit(1)
	}
}
