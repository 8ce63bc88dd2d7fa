package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// startEmulator starts the whole emulator with the default scenario plus
// generated tenants, and sets the environment fakemsi exec would.
func startEmulator(t *testing.T, gen fakeidp.Generate, limits *graphtest.Limits) *emulator.Emulator {
	t.Helper()
	sc := fakeidp.DefaultScenario()
	sc.Generate = &gen
	emu, err := emulator.Start(&emulator.Options{Scenario: sc, GraphLimits: limits, SigningKeyBits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	emu.Env().Apply(t.Setenv)
	return emu
}

type runResult struct {
	code           int
	stdout, stderr string
}

func runInventory(t *testing.T, emu *emulator.Emulator, args ...string) runResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	// No -graph-url: graphlite reads TENANTBRIDGE_GRAPH_URL from the
	// environment the emulator set, as under fakemsi exec.
	code := run(context.Background(), args, os.Getenv, &stdout, &stderr, &transports{entra: emu.IDP().Client(), graph: emu.Graph().Client()})
	r := runResult{code, stdout.String(), stderr.String()}
	// A token never reaches the output, the progress or the summary.
	for name, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
		if where := leak.Find(text); where != "" {
			t.Fatalf("%s holds a token: %s", name, where)
		}
	}
	return r
}

// consentedDevices counts the devices of the tenants FAKEMSI_TENANTS lists
// that consented.
func consentedDevices(emu *emulator.Emulator) (tenants, devices int) {
	consented := map[string]bool{}
	for _, r := range emu.Tenancy().Remotes {
		consented[r.ID] = r.Consented
	}
	for _, tn := range emu.IDP().Scenario().Tenants {
		if consented[tn.ID] {
			tenants++
			devices += len(tn.Devices) + tn.GeneratedDevices
		}
	}
	return tenants, devices
}

func TestSweepUnderTheEmulator(t *testing.T) {
	emu := startEmulator(t, fakeidp.Generate{Consented: 4, Unconsented: 2, Devices: 150, Seed: 7}, nil)
	remotes := strings.Split(os.Getenv("FAKEMSI_TENANTS"), ",")
	wantTenants, wantDevices := consentedDevices(emu)
	emu.Graph().ResetRequests()
	emu.IDP().ResetRequests()

	r := runInventory(t, emu)
	if r.code != 2 {
		t.Errorf("exit code %d, want 2 (some tenants did not consent)\n%s", r.code, r.stderr)
	}
	// JSON Lines: one device per line, with its tenant.
	perTenant := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var row struct {
			Tenant, ID, DisplayName string
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil || row.Tenant == "" || row.ID == "" || row.DisplayName == "" {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		perTenant[row.Tenant]++
	}
	total := 0
	for _, n := range perTenant {
		total += n
	}
	if len(perTenant) != wantTenants || total != wantDevices {
		t.Errorf("%d devices of %d tenants, want %d of %d", total, len(perTenant), wantDevices, wantTenants)
	}
	// The summary: every tenant, the unconsented ones with AADSTS700016
	// and their admin-consent URL.
	for _, rem := range emu.Tenancy().Remotes {
		line := lineWith(r.stderr, rem.ID+" ")
		switch {
		case line == "":
			t.Errorf("summary has no line for tenant %s", rem.ID)
		case !rem.Consented:
			if !strings.Contains(line, "AADSTS700016") || !strings.Contains(line, "/"+rem.ID+"/adminconsent?client_id="+emu.Tenancy().App.ClientID) {
				t.Errorf("summary line of unconsented %s: %q", rem.ID, line)
			}
		case !strings.Contains(line, " ok"):
			t.Errorf("summary line of consented %s: %q", rem.ID, line)
		}
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("inventory: %d/%d tenants", len(remotes), len(remotes))) {
		t.Errorf("no plain progress line for the end of the sweep (stderr is not a terminal):\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "\r") {
		t.Error("a progress bar was drawn on a stderr that is not a terminal")
	}
	// One managed-identity assertion, one token request per tenant, one
	// Graph page per consented tenant (150+ devices fit $top=999).
	var msi, token int
	for _, q := range emu.IDP().Requests() {
		switch {
		case q.Listener == emulator.ListenerMSI:
			msi++
		case strings.HasSuffix(q.Path, "/oauth2/v2.0/token"):
			token++
		}
	}
	if msi != 1 || token != len(remotes) || len(emu.Graph().Requests()) != wantTenants {
		t.Errorf("%d managed-identity, %d token, %d Graph requests; want 1, %d, %d", msi, token, len(emu.Graph().Requests()), len(remotes), wantTenants)
	}
}

func lineWith(text, s string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, s) {
			return l
		}
	}
	return ""
}

func TestSweepCSVAndDelta(t *testing.T) {
	// Many tenants, a few at a time: the workers read the stored links
	// while finished tenants record new ones (run with -race).
	const n = 24
	emu := startEmulator(t, fakeidp.Generate{Consented: n, Devices: 30, Seed: 1}, nil)
	tenant := fakeidp.GeneratedTenantID(1, 0)
	var tenants []string
	for i := range n {
		tenants = append(tenants, fakeidp.GeneratedTenantID(1, i))
	}
	state := filepath.Join(t.TempDir(), "links.json")
	args := []string{"-tenants", strings.Join(tenants, ";"), "-format", "csv", "-delta-state", state, "-parallelism", "4"}

	first := runInventory(t, emu, args...)
	rows := readCSV(t, first.stdout)
	if first.code != 0 || len(rows) != 1+30*n || strings.Join(rows[0], ",") != strings.Join(csvColumns, ",") {
		t.Fatalf("first run: code %d, %d rows (want a header and %d)\n%s", first.code, len(rows), 30*n, first.stderr)
	}
	// A second round without changes, from the stored links: nothing.
	if again := runInventory(t, emu, args...); again.code != 0 || len(readCSV(t, again.stdout)) != 1 {
		t.Fatalf("round without changes: code %d, output %q", again.code, again.stdout)
	}
	// One device changes, one goes: the second run writes just those.
	var ids []string
	for _, row := range rows[1:] {
		if row[0] == tenant {
			ids = append(ids, row[1])
		}
	}
	if err := emu.Graph().UpdateDevice(tenant, ids[3], map[string]any{"displayName": "renamed"}); err != nil {
		t.Fatal(err)
	}
	if err := emu.Graph().RemoveDevice(tenant, ids[4]); err != nil {
		t.Fatal(err)
	}
	emu.Graph().ResetRequests()
	second := runInventory(t, emu, args...)
	rows = readCSV(t, second.stdout)
	if second.code != 0 || len(rows) != 3 {
		t.Fatalf("second run: code %d, %d rows, want a header and 2 changes\n%s", second.code, len(rows), second.stdout)
	}
	got := map[string]string{}
	for _, row := range rows[1:] {
		got[row[1]] = row[3] + " removed=" + row[len(row)-1]
	}
	if got[ids[3]] != "renamed removed=false" || got[ids[4]] != " removed=true" {
		t.Errorf("changes: %v", got)
	}
	if got := len(emu.Graph().Requests()); got != n {
		t.Errorf("second run: %d Graph requests, want one per tenant (%d)", got, n)
	}
}

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestSweepThrottledByTheAppBucket(t *testing.T) {
	// A scaled-down application bucket: 8 units per 200 ms window, for 20
	// tenants of one page each.
	emu := startEmulator(t, fakeidp.Generate{Consented: 20, Devices: 10, Seed: 3},
		&graphtest.Limits{AppUnits: 8, AppWindow: 200 * time.Millisecond})
	var tenants []string
	for i := range 20 {
		tenants = append(tenants, fakeidp.GeneratedTenantID(3, i))
	}
	r := runInventory(t, emu, "-tenants", strings.Join(tenants, ","), "-parallelism", "32")
	if r.code != 0 {
		t.Fatalf("exit code %d: a consented tenant failed under throttling\n%s", r.code, r.stderr)
	}
	if n := strings.Count(r.stdout, "\n"); n != 200 {
		t.Errorf("%d devices, want 200", n)
	}
	var throttled int
	for _, q := range emu.Graph().Requests() {
		if q.Status == 429 {
			throttled++
		}
	}
	if throttled == 0 || !strings.Contains(r.stderr, "throttled") {
		t.Errorf("%d throttled requests; the test did not meet the limit\n%s", throttled, r.stderr)
	}
}

func TestConfig(t *testing.T) {
	env := map[string]string{"AZURE_ADDITIONALLY_ALLOWED_TENANTS": "*", "FAKEMSI_TENANTS": "B;a,b"}
	c, err := parseConfig(nil, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil || strings.Join(c.tenants, ",") != "b,a" {
		t.Errorf("tenants %v, %v; want FAKEMSI_TENANTS split on , and ;, lower-cased, de-duplicated (\"*\" skipped)", c.tenants, err)
	}
	env["ALLOWED_TENANTS"] = "x"
	if c, _ := parseConfig(nil, func(k string) string { return env[k] }, &bytes.Buffer{}); strings.Join(c.tenants, ",") != "x" {
		t.Errorf("ALLOWED_TENANTS first: %v", c.tenants)
	}
	for _, args := range [][]string{{"-format", "xml"}, {"-tenants", "*"}, {"-graph-url", "http://x"}, {"-parallelism", "0"}, {"-tenants", "a/b"}} {
		if _, err := parseConfig(args, func(string) string { return "" }, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
