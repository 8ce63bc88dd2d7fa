package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The managed-identity flavours of the environment block.
const (
	modeAppService = "appservice"
	modeIMDS       = "imds"
	modeWorkload   = "workload"
)

var modes = []string{modeAppService, modeIMDS, modeWorkload}

func validMode(m string) bool {
	for _, x := range modes {
		if m == x {
			return true
		}
	}
	return false
}

// envVar is one variable of the environment block.
type envVar struct {
	Name, Value string
}

// envBlock is the environment the emulator gives to the programs under test,
// in a fixed order: the mode's managed-identity variables, then the ones every
// mode sets.
type envBlock []envVar

// envDoc describes a variable for `fakemsi env` and docs/fakemsi.md.
type envDoc struct {
	Name    string
	Mode    string // "" for every mode
	Meaning string
}

// envDocs lists every variable the emulator can set. The names are the ones
// the Azure platforms and SDKs use, so clients run unchanged (DESIGN.md, "The
// environment block").
var envDocs = []envDoc{
	{"IDENTITY_ENDPOINT", modeAppService, "App Service / Functions managed-identity endpoint (api-version 2019-08-01); fakeidp's /msi/token"},
	{"IDENTITY_HEADER", modeAppService, "secret for the X-IDENTITY-HEADER request header; random per run"},
	{"MSI_ENDPOINT", modeAppService, "the same endpoint under its older name (api-version 2017-09-01), as Functions sets both"},
	{"MSI_SECRET", modeAppService, "the same secret under its older name (sent as the secret header)"},
	{"AZURE_POD_IDENTITY_AUTHORITY_HOST", modeIMDS, "base URL of the fake IMDS (clients append /metadata/identity/oauth2/token); honoured by @azure/identity, not by azidentity"},
	{"AZURE_FEDERATED_TOKEN_FILE", modeWorkload, "projected service-account token (an assertion from the scenario's external issuer), rewritten before it expires"},
	{"AZURE_AUTHORITY_HOST", "", "the fake Entra authority (https://127.0.0.1:PORT), trusted through SSL_CERT_FILE"},
	{"AZURE_TENANT_ID", "", "the home tenant of the app and of the managed identities"},
	{"AZURE_CLIENT_ID", "", "client ID of the multi-tenant app registration whose federated credentials trust the identities"},
	{"AZURE_ADDITIONALLY_ALLOWED_TENANTS", "", `"*": lets azidentity and federated credentials request tokens in the remote tenants of FAKEMSI_TENANTS`},
	{"SSL_CERT_FILE", "", "PEM bundle of the emulator's CAs (Entra and Graph listeners); Go and OpenSSL read it instead of the system roots"},
	{"NODE_EXTRA_CA_CERTS", "", "the same bundle for Node.js, which adds it to its roots"},
	{"FAKEMSI_TENANTS", "", "remote tenant IDs, comma-separated, consented ones first"},
	{"FAKEMSI_GRAPH_URL", "", "base URL of the fake Microsoft Graph, with /v1.0"},
}

// Get returns the value of name, or "".
func (b envBlock) Get(name string) string {
	for _, v := range b {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}

// writeExports prints the block as POSIX shell `export` lines, so that
// `eval "$(fakemsi serve ...)"` works; values are single-quoted.
func (b envBlock) writeExports(w io.Writer) error {
	var sb strings.Builder
	for _, v := range b {
		fmt.Fprintf(&sb, "export %s=%s\n", v.Name, shellQuote(v.Value))
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// shellQuote single-quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// envFileContent renders KEY=VALUE lines: the format of docker --env-file,
// systemd EnvironmentFile, dotenv loaders and GitHub Actions' $GITHUB_ENV.
// Values never contain a newline (they are URLs, IDs, paths and hex).
func (b envBlock) envFileContent() []byte {
	var sb strings.Builder
	for _, v := range b {
		fmt.Fprintf(&sb, "%s=%s\n", v.Name, v.Value)
	}
	return []byte(sb.String())
}

// writeEnvFile writes the block to path atomically (temporary file, then
// rename): a script that waits for the file to exist never reads half of it.
// The file holds the identity header, so it is readable by its owner only.
func (b envBlock) writeEnvFile(path string) error {
	return writeFileAtomic(path, b.envFileContent(), 0o600)
}

// environ returns base with the block's variables set, replacing any that base
// already has (a stale IDENTITY_ENDPOINT must not win over ours).
func (b envBlock) environ(base []string) []string {
	out := make([]string, 0, len(base)+len(b))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if b.has(name) {
			continue
		}
		out = append(out, kv)
	}
	for _, v := range b {
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}

func (b envBlock) has(name string) bool {
	for _, v := range b {
		if v.Name == name {
			return true
		}
	}
	return false
}

// writeFileAtomic writes data to a temporary file in path's directory and
// renames it over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := firstErr(werr, cerr, os.Chmod(tmp, perm)); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
