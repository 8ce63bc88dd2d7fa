package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// TestServeGraphFault runs `serve --fault graph:503:count=1` and calls the
// fake Graph as a program would, from the env file: the first listing gets
// Graph's 503, the second the devices. The log has both Graph lines and no
// token.
func TestServeGraphFault(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "fake.env")
	r := startFakemsi(t, nil, "serve", "--env-file", envFile, "--log-format", "json", "--fault", "graph:503:retry-after=1:count=1")
	r.waitLine("export FAKEMSI_ARM_URL=")
	c := clientFromEnvFile(t, envFile)
	env, hc, cred := c.env, c.hc, c.cred

	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	consented := strings.Split(env["FAKEMSI_TENANTS"], ",")[0]
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: consented})
	if err != nil {
		t.Fatalf("token in %s: %v", consented, err)
	}

	// A bare client, so that no retry policy hides the fault.
	var got []string
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, "GET", env["FAKEMSI_GRAPH_URL"]+"/devices?$select=id", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code string } `json:"error"`
			Value []json.RawMessage     `json:"value"`
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("Graph answer is not JSON: %v", err)
		}
		got = append(got, strings.Join([]string{resp.Status, resp.Header.Get("Retry-After"), body.Error.Code, itoa(len(body.Value))}, " "))
	}
	want := []string{"503 Service Unavailable 1 ServiceUnavailable 0", "200 OK   4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Graph answers (-want +got):\n%s", diff)
	}
	hc.CloseIdleConnections()

	r.signal(syscall.SIGTERM)
	if code := r.wait(); code != 0 {
		t.Fatalf("exit code after SIGTERM %d, want 0\nstderr:\n%s", code, redact(r.stderr.String()))
	}
	logs := r.stderr.String()
	for _, want := range []string{
		`"level":"WARN","msg":"graphtest request","listener":"graph","method":"GET","path":"/v1.0/devices","status":503,"error_code":"ServiceUnavailable","tenant":"` + consented + `"`,
		`"level":"INFO","msg":"graphtest request","listener":"graph","method":"GET","path":"/v1.0/devices","status":200,"error_code":"","tenant":"` + consented + `"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, redact(logs, tok.Token))
		}
	}
	if where := leak.Find(logs, tok.Token); where != "" {
		t.Errorf("the log contains %s", where)
	}
}

// TestBadGraphFaultFlag checks that a bad Graph spec is a usage error naming
// the flag, the bad item and the fix, like a bad fakeidp spec (one parser
// reads both, without a package prefix).
func TestBadGraphFaultFlag(t *testing.T) {
	for spec, fix := range map[string]string{
		"graph:503:colour=red": `unknown item "colour" (items: a status such as 503,`,
		"graph:503:count=-1":   "count wants a whole number",
		"token:claims":         "use it with graph",
	} {
		r := runFakemsi(t, nil, "serve", "--fault", spec)
		if r.code != exitUsage {
			t.Fatalf("%s: exit code %d, want %d\nstderr:\n%s", spec, r.code, exitUsage, redact(r.stderr))
		}
		item := spec[strings.LastIndex(spec, ":")+1:]
		if !strings.Contains(r.stderr, `--fault: fault "`+spec+`": "`+item+`": `) || !strings.Contains(r.stderr, fix) ||
			strings.Contains(r.stderr, "graphtest:") || strings.Contains(r.stderr, "fakeidp:") {
			t.Errorf("%s: stderr does not name the flag, the bad item and the fix (%q):\n%s", spec, fix, redact(r.stderr))
		}
	}
}
