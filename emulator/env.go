package emulator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tenantbridge/tenantbridge/fakeidp"
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
// IDENTITY_ENDPOINT must not win over the emulator's, nor a
// REQUESTS_CA_BUNDLE that points at the system bundle. It also drops from
// base every variable of the modes the block is not in, and the other
// platform variables of [PlatformVars]: an inherited IDENTITY_ENDPOINT under
// imds mode would make assertion.FromEnvironment, azidentity and
// azure-identity pick App Service, an inherited IDENTITY_SERVER_THUMBPRINT
// would make azure-identity pick Service Fabric. It is what an exec.Cmd's Env
// wants (and what `fakemsi exec` does):
//
//	cmd.Env = emu.Env().Merge(os.Environ())
func (e Env) Merge(base []string) []string {
	platform := PlatformVars()
	out := make([]string, 0, len(base)+len(e))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := e.Lookup(name); ok || slices.Contains(platform, name) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, e.Environ()...)
}

// PlatformVars lists the variables through which a managed-identity platform
// announces itself to clients: every variable that a mode of [VarDocs] sets,
// and those of platforms the emulator does not present (Service Fabric's
// IDENTITY_SERVER_THUMBPRINT and its API version). [Env.Merge] drops those the
// block does not set.
func PlatformVars() []string {
	names := slices.Clone(foreignPlatformVars)
	for _, d := range varDocs {
		if d.Mode != "" && !slices.Contains(names, d.Name) {
			names = append(names, d.Name)
		}
	}
	return names
}

// foreignPlatformVars are read by Azure clients to detect platforms that no
// mode presents: with them inherited, azure-identity and @azure/identity
// take App Service's IDENTITY_ENDPOINT and IDENTITY_HEADER for Service
// Fabric's.
var foreignPlatformVars = []string{"IDENTITY_SERVER_THUMBPRINT", "IDENTITY_API_VERSION"}

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
	{"WEBSITE_SITE_NAME", ModeAppService, "the site's name, as App Service sets it (from the system identity's resource ID, else fakemsi)"},
	{"APPSETTING_WEBSITE_SITE_NAME", ModeAppService, "the same name, as App Service also sets it: the Azure CLI's `az login --identity` uses the App Service protocol only when it is set"},
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
	{"REQUESTS_CA_BUNDLE", "", "the same bundle for Python requests (azure-identity, MSAL Python, the Azure CLI), which never reads SSL_CERT_FILE"},
	{"CURL_CA_BUNDLE", "", "the same bundle for curl's tool and, after REQUESTS_CA_BUNDLE, Python requests"},
	{"TENANTBRIDGE_GRAPH_URL", "", "base URL of the fake Microsoft Graph (FAKEMSI_GRAPH_URL), read by graphlite.New when Options.BaseURL is unset: code written for Azure calls the fake Graph unchanged"},
	{"TENANTBRIDGE_ARM_URL", "", "base URL of the fake Azure Resource Manager (FAKEMSI_ARM_URL), read (with AZURE_AUTHORITY_HOST) by federated.CloudFromEnvironment, the Cloud of an Azure SDK ARM client: code written for Azure calls the fake ARM unchanged"},
	{"FAKEMSI_TENANTS", "", "remote tenant IDs, comma-separated, consented ones first"},
	{"FAKEMSI_GRAPH_URL", "", "base URL of the fake Microsoft Graph, with /v1.0"},
	{"FAKEMSI_ARM_URL", "", "base URL of the fake Azure Resource Manager (the cloud's Resource Manager endpoint; the token audience stays https://management.core.windows.net/)"},
}

// siteName is WEBSITE_SITE_NAME: the App Service site of the scenario's
// system-assigned identity (".../providers/Microsoft.Web/sites/NAME"), else
// "fakemsi". Clients only test that it is set.
func siteName(ids []fakeidp.ManagedIdentity) string {
	for _, id := range ids {
		if id.Kind != fakeidp.KindSystem {
			continue
		}
		// Resource IDs compare case-insensitively; the name keeps its case.
		const marker = "/providers/microsoft.web/sites/"
		i := strings.LastIndex(strings.ToLower(id.ResourceID), marker)
		if i < 0 || len(strings.ToLower(id.ResourceID)) != len(id.ResourceID) {
			continue
		}
		if name := id.ResourceID[i+len(marker):]; name != "" && !strings.Contains(name, "/") {
			return name
		}
	}
	return "fakemsi"
}
