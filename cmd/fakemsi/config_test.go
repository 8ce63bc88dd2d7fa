package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// defaultConfigWith returns the default config JSON with key set to raw.
func defaultConfigWith(t *testing.T, key, raw string) []byte {
	t.Helper()
	b, err := defaultConfigJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m[key] = json.RawMessage(raw)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func withOptions(t *testing.T, raw string) []byte { return defaultConfigWith(t, "options", raw) }
func withFaults(t *testing.T, raw string) []byte  { return defaultConfigWith(t, "faults", raw) }

func writeConfig(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseConfig(t *testing.T) {
	def, err := defaultConfigJSON()
	if err != nil {
		t.Fatal(err)
	}
	scenario, err := json.Marshal(fakeidp.DefaultScenario())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		data     []byte
		problems []string // nil: valid
		check    func(t *testing.T, c *config)
	}{
		{name: "default config", data: def, check: func(t *testing.T, c *config) {
			if diff := cmp.Diff(fakeidp.DefaultScenario(), c.Scenario); diff != "" {
				t.Errorf("scenario (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(configOptions{Mode: modeAppService, Addr: "127.0.0.1"}, c.Options); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		}},
		{name: "plain fakeidp scenario", data: scenario},
		{name: "options and faults", data: defaultConfigWith(t, "options",
			`{"mode":"workload","tokenLifetime":"10m","workloadTokenLifetime":"2m","msiPort":8080,"app":"aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"}`),
			check: func(t *testing.T, c *config) {
				want := configOptions{Mode: modeWorkload, TokenLifetime: duration(10 * time.Minute), WorkloadTokenLifetime: duration(2 * time.Minute), MSIPort: 8080, App: fakeidp.DefaultAppClientID}
				if diff := cmp.Diff(want, c.Options); diff != "" {
					t.Errorf("options (-want +got):\n%s", diff)
				}
			}},
		{name: "faults", data: withFaults(t, `["token:429:retry-after=2:count=3", "graph:503:count=1", "imds:410:count=2", "graph:claims"]`), check: func(t *testing.T, c *config) {
			want := []emulator.Fault{
				{Endpoint: "token", Status: 429, RetryAfter: 2 * time.Second, Count: 3},
				{Endpoint: "graph", Status: 503, Count: 1},
				{Endpoint: "imds", Status: 410, Count: 2},
				{Endpoint: "graph", Status: 401},
			}
			if diff := cmp.Diff(want, c.Faults); diff != "" {
				t.Errorf("faults (-want +got):\n%s", diff)
			}
		}},
		{name: "syntax error", data: []byte("{\n  \"tenants\": [\n    {\"id\": \"x\",}\n  ]\n}"),
			problems: []string{"line 3, column 17: invalid character '}' looking for beginning of object key string"}},
		{name: "empty", data: nil, problems: []string{"empty file; want a JSON object"}},
		{name: "array", data: []byte(`[]`), problems: []string{"the config is a JSON array; want an object"}},
		{name: "null", data: []byte(`null`), problems: []string{"the config is null; want a JSON object"}},
		{name: "trailing", data: []byte(`{} {}`), problems: []string{"trailing data after the JSON object"}},
		{name: "unknown option", data: withOptions(t, `{"port": 1}`),
			problems: []string{`options.port: unknown option (known: addr, app, armPort, entraPort, graphPort, mode, msiPort, tokenLifetime, workloadTokenLifetime)`}},
		{name: "bad mode and port", data: withOptions(t, `{"mode": "vm", "graphPort": -1}`),
			problems: []string{`options.graphPort: -1 is not a TCP port`, `options.mode: "vm" is not one of appservice, imds, workload, github, arc`}},
		{name: "bad duration", data: withOptions(t, `{"tokenLifetime": "soon"}`),
			problems: []string{`options.tokenLifetime: "soon" is not a duration such as "75m"`}},
		{name: "negative duration", data: withOptions(t, `{"workloadTokenLifetime": "-1m"}`),
			problems: []string{`options.workloadTokenLifetime: "-1m" must be positive`}},
		{name: "option of the wrong type", data: withOptions(t, `{"msiPort": "80"}`),
			problems: []string{`options.msiPort: cannot use JSON string as int`}},
		{name: "unknown app", data: withOptions(t, `{"app": "nope"}`),
			problems: []string{`options.app: "nope" is not the clientId of one of the apps`}},
		{name: "faults not a list", data: withFaults(t, `"token:429"`),
			problems: []string{`faults: want a list of fault strings such as "token:429:retry-after=2:count=3"`}},
		{name: "bad fault", data: withFaults(t, `["token:429", "token:teapot", "graph:503", "graph:200"]`),
			problems: []string{
				`faults[1]: fault "token:teapot": "teapot": not a status, claims, reset or KEY=VALUE (items: a status such as 503, claims, reset, latency=D, retry-after=S, count=N, body=truncated|malformed|oversize, path=TEXT)`,
				`faults[3]: fault "graph:200": "200": status 200 out of range (want 400 to 599: a fault answers with an error)`,
			}},
		{name: "scenario problems keep their paths", data: []byte(`{"tenants":[{"id":""}],"apps":[{"clientId":"a","homeTenant":"t"}]}`),
			problems: []string{"tenants[0].id: empty", `apps[0].homeTenant: unknown tenant "t"`}},
		{name: "scenario type error", data: []byte(`{"apps":[{"multiTenant":"yes"}]}`),
			problems: []string{"apps[0].multiTenant: cannot use JSON string as bool"}},
		{name: "no app", data: []byte(`{"tenants":[{"id":"t"}]}`),
			problems: []string{"apps: empty; fakemsi needs an app registration for AZURE_CLIENT_ID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.data)
			if tt.problems == nil {
				if err != nil {
					t.Fatalf("parseConfig: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			ce, ok := err.(*configError)
			if !ok {
				t.Fatalf("error %v (%T), want *configError", err, err)
			}
			if diff := cmp.Diff(tt.problems, ce.Problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveFlagsOverrideConfig(t *testing.T) {
	data := withOptions(t, `{"mode":"imds","addr":"127.0.0.2","msiPort":1234,"graphPort":2345,"armPort":3456}`)
	var top map[string]any
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	top["faults"] = []string{"graph:429:count=1", "token:500"}
	data, _ = json.Marshal(top)
	cfg := writeConfig(t, data)
	fs := newFlagSet("serve")
	var sf serverFlags
	sf.register(fs, "info")
	if err := fs.Parse([]string{"--config", cfg, "--mode", "workload", "--msi-port", "0", "--arm-port", "4567", "--fault", "msi:reset", "--fault", "graph:503"}); err != nil {
		t.Fatal(err)
	}
	got, err := sf.resolve(fs)
	if err != nil {
		t.Fatal(err)
	}
	if got.Scenario == nil {
		t.Error("no scenario")
	}
	got.Scenario = nil
	want := emulator.Options{
		Mode: emulator.ModeWorkload, Addr: "127.0.0.2", MSIPort: 0, GraphPort: 2345, ARMPort: 4567,
		// Config faults first, then the flags'.
		Faults: []emulator.Fault{
			{Endpoint: "graph", Status: 429, Count: 1}, {Endpoint: "token", Status: 500},
			{Endpoint: "msi", Body: "reset"}, {Endpoint: "graph", Status: 503},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
}
