package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
)

const envAbout = `
Print the IDs of the built-in scenario (or of --config FILE) and what each
variable of the environment block means. The URLs and the identity header
change with every run; 'fakemsi serve' prints their values.`

func runEnv(a *app, args []string) error {
	fs := newFlagSet("env")
	configFile := fs.String("config", "", "describe the scenario of config `FILE` instead of the built-in one")
	if err := parseFlags(a, fs, "[--config FILE]", envAbout, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(*configFile)
	if err != nil {
		return err
	}
	tn, err := emulator.TenancyOf(cfg.Scenario, cfg.Options.App)
	if err != nil {
		return err
	}
	app, home, remotes := tn.App, tn.Home, tn.Remotes

	w := tabwriter.NewWriter(a.stdout, 2, 8, 2, ' ', 0)
	if *configFile == "" {
		fmt.Fprintln(w, "Scenario: built-in (fakeidp.DefaultScenario; print it with 'fakemsi scenario default')")
	} else {
		fmt.Fprintf(w, "Scenario: %s\n", *configFile)
	}
	fmt.Fprintln(w, "\nTenants:")
	fmt.Fprintf(w, "  %s\t%s\thome tenant (AZURE_TENANT_ID)\t%d devices\n", home.ID, home.DisplayName, len(home.Devices))
	for _, r := range remotes {
		state := "has NOT consented to the app (token requests fail with AADSTS700016)"
		if r.Consented {
			state = "consented: " + strings.Join(r.Roles, ", ")
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%d devices\n", r.ID, r.DisplayName, state, len(r.Devices))
	}
	fmt.Fprintln(w, "\nApp registration (AZURE_CLIENT_ID):")
	fmt.Fprintf(w, "  %s\t%s\tmulti-tenant: %t\n", app.ClientID, app.DisplayName, app.MultiTenant)
	for _, f := range app.FederatedCredentials {
		fmt.Fprintf(w, "  federated credential %s\tissuer %s\tsubject %s\n", f.Name, f.Issuer, f.Subject)
	}
	fmt.Fprintln(w, "\nManaged identities:")
	for _, m := range cfg.Scenario.ManagedIdentities {
		kind := "user-assigned"
		if m.Kind == fakeidp.KindSystem {
			kind = "system-assigned (what a request without selector gets)"
		}
		fmt.Fprintf(w, "  %s\t%s\tobject ID %s\tclient ID %s\n", m.Name, kind, m.ObjectID, m.ClientID)
	}
	if len(cfg.Scenario.Issuers) > 0 {
		fmt.Fprintln(w, "\nExternal OIDC issuers (workload and github modes):")
		for _, is := range cfg.Scenario.Issuers {
			what := "generic OIDC (workload mode)"
			if is.Kind == fakeidp.IssuerKindGitHub {
				what = "GitHub Actions (github mode), a job of " + is.Repository + " on " + is.Ref
			}
			fmt.Fprintf(w, "  %s\t{AZURE_AUTHORITY_HOST}/issuers/%s\t%s\n", is.Name, is.Name, what)
		}
	}
	fmt.Fprintln(w, "\nEnvironment block:")
	for _, d := range emulator.VarDocs() {
		mode := "all modes"
		if d.Mode != "" {
			mode = string(d.Mode) + " mode"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\n", d.Name, mode, d.Meaning)
	}
	return w.Flush()
}
