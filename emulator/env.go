package emulator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// Var is one variable of an environment block.
type Var struct {
	Name, Value string
}

// Env is the environment the emulator gives to the code under test, in a
// fixed order: the mode's managed-identity variables, then the ones every
// mode sets. The names are the ones the Azure platforms set and the Azure SDKs
// read, so client code runs unchanged; [VarDocs] says what each means.
//
// IDENTITY_HEADER (and MSI_SECRET) hold the emulator's identity header, a
// secret of this emulator only: fmt and [Env.String] redact it, but
// [Env.Environ], [Env.WriteFile] and a loop over the variables do not, so do
// not print those where others read them.
type Env []Var

// Get returns the value of name, or "".
func (e Env) Get(name string) string {
	v, _ := e.Lookup(name)
	return v
}

// Lookup returns the value of name and whether the block sets it.
func (e Env) Lookup(name string) (string, bool) {
	for _, v := range e {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}

// Environ returns the block as KEY=VALUE strings, in order.
func (e Env) Environ() []string {
	out := make([]string, len(e))
	for i, v := range e {
		out[i] = v.Name + "=" + v.Value
	}
	return out
}

// Merge returns base (KEY=VALUE strings, as from os.Environ) with the block's
// variables set, replacing any that base already has: a stale
// IDENTITY_ENDPOINT must not win over the emulator's. It is what an
// exec.Cmd's Env wants:
//
//	cmd.Env = emu.Env().Merge(os.Environ())
func (e Env) Merge(base []string) []string {
	out := make([]string, 0, len(base)+len(e))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := e.Lookup(name); ok {
			continue
		}
		out = append(out, kv)
	}
	return append(out, e.Environ()...)
}

// Apply calls setenv for each variable, in order. A Go test sets the block for
// its own duration (and gets it restored) with
//
//	emu.Env().Apply(t.Setenv)
//
// Variables a client reads once per process (SSL_CERT_FILE for Go's system
// roots, NODE_EXTRA_CA_CERTS) need a child process instead: see [Env.Merge].
func (e Env) Apply(setenv func(name, value string)) {
	for _, v := range e {
		setenv(v.Name, v.Value)
	}
}

// String returns the block as KEY=VALUE words with the identity header
// redacted (and anything shaped like a JWT), so that printing an Env with
// fmt's %v or %s, or logging it, shows where the emulator is but not its
// secret. Use [Env.Environ] or [Env.Get] for the values themselves.
func (e Env) String() string {
	return e.redact(strings.Join(e.Environ(), " "))
}

// GoString is [Env.String] for fmt's %#v: Go syntax, the secret redacted.
func (e Env) GoString() string {
	var sb strings.Builder
	sb.WriteString("emulator.Env{")
	for i, v := range e {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "{Name: %q, Value: %q}", v.Name, v.Value)
	}
	sb.WriteString("}")
	return e.redact(sb.String())
}

// redact hides the block's secrets in s: the values of IDENTITY_HEADER and
// MSI_SECRET, wherever they appear, and what [leak.Redact] always hides.
func (e Env) redact(s string) string {
	return leak.Redact(s, e.Get("IDENTITY_HEADER"), e.Get("MSI_SECRET"), e.Get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
}

// WriteFile writes the block to path as KEY=VALUE lines, the format of docker
// --env-file, systemd's EnvironmentFile, dotenv loaders and GitHub Actions'
// $GITHUB_ENV. The values never contain a newline (they are URLs, IDs, paths
// and hex). The file is written atomically (a temporary file in the same
// directory, then a rename), so a script that waits for it to exist never
// reads half of it; it holds the identity header, so only its owner may read
// it (mode 0600).
func (e Env) WriteFile(path string) error {
	var sb strings.Builder
	for _, v := range e {
		sb.WriteString(v.Name)
		sb.WriteByte('=')
		sb.WriteString(v.Value)
		sb.WriteByte('\n')
	}
	return writeFileAtomic(path, []byte(sb.String()), 0o600)
}

// VarDoc describes a variable the emulator can set.
type VarDoc struct {
	Name    string
	Mode    Mode // "" when every mode sets it
	Meaning string
}

// VarDocs lists every variable the emulator can set, in the order of an
// environment block; `fakemsi env` prints it. A variable that several modes
// set (IDENTITY_ENDPOINT: appservice and arc) is listed once per mode.
func VarDocs() []VarDoc { return slices.Clone(varDocs) }

var varDocs = []VarDoc{
	{"IDENTITY_ENDPOINT", ModeAppService, "App Service / Functions managed-identity endpoint (api-version 2019-08-01); fakeidp's /msi/token"},
	{"IDENTITY_HEADER", ModeAppService, "secret for the X-IDENTITY-HEADER request header; random per run"},
	{"MSI_ENDPOINT", ModeAppService, "the same endpoint under its older name (api-version 2017-09-01), as Functions sets both"},
	{"MSI_SECRET", ModeAppService, "the same secret under its older name (sent as the secret header)"},
	{"AZURE_POD_IDENTITY_AUTHORITY_HOST", ModeIMDS, "base URL of the fake IMDS (clients append /metadata/identity/oauth2/token); honoured by @azure/identity, not by azidentity"},
	{"AZURE_FEDERATED_TOKEN_FILE", ModeWorkload, "projected service-account token (an assertion from the scenario's external issuer), rewritten before it expires"},
	{"ACTIONS_ID_TOKEN_REQUEST_URL", ModeGitHub, "GitHub Actions OIDC token request URL (with its query; clients append &audience=...), served by the scenario's GitHub-kind issuer"},
	{"ACTIONS_ID_TOKEN_REQUEST_TOKEN", ModeGitHub, "bearer token for that request; random per run, a secret"},
	{"IDENTITY_ENDPOINT", ModeArc, "Azure Arc agent's identity endpoint: 401 with WWW-Authenticate: Basic realm=<key file>, then the token for Authorization: Basic <key>"},
	{"IMDS_ENDPOINT", ModeArc, "Azure Arc agent's base URL; with IDENTITY_ENDPOINT it tells clients they run on Arc"},
	{"FAKEMSI_ARC_KEY_DIR", ModeArc, "where the emulator writes the challenge key files: pass it as assertion.AzureArcOptions.KeyDirectory (clients that only trust /var/opt/azcmagent/tokens need --arc-key-dir there)"},
	{"AZURE_AUTHORITY_HOST", "", "the fake Entra authority (https://127.0.0.1:PORT), trusted through SSL_CERT_FILE"},
	{"AZURE_TENANT_ID", "", "the home tenant of the app and of the managed identities"},
	{"AZURE_CLIENT_ID", "", "client ID of the multi-tenant app registration whose federated credentials trust the identities"},
	{"AZURE_ADDITIONALLY_ALLOWED_TENANTS", "", `"*": lets azidentity and federated credentials request tokens in the remote tenants of FAKEMSI_TENANTS`},
	{"SSL_CERT_FILE", "", "PEM bundle of the emulator's CAs (Entra and Graph listeners); Go and OpenSSL read it instead of the system roots"},
	{"NODE_EXTRA_CA_CERTS", "", "the same bundle for Node.js, which adds it to its roots"},
	{"FAKEMSI_TENANTS", "", "remote tenant IDs, comma-separated, consented ones first"},
	{"FAKEMSI_GRAPH_URL", "", "base URL of the fake Microsoft Graph, with /v1.0"},
}
