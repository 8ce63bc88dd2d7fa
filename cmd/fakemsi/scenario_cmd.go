package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/tenantbridge/tenantbridge/emulator"
)

// scenarioAbout starts with a sentence: parseFlags trims the text, which would
// strip the indentation of a first line that is part of the table below.
const scenarioAbout = `
Check a config file, or print the built-in scenario to start one from.

  fakemsi scenario validate FILE   check a config file; print every problem
                                   with its field path and exit 1 if any
  fakemsi scenario default         print the built-in scenario as a config
                                   file to start from

A config file is a fakeidp scenario (tenants, apps, consents,
managedIdentities, issuers) plus optional "faults" and "options" sections;
see docs/fakemsi.md.`

func runScenario(a *app, args []string) error {
	fs := newFlagSet("scenario")
	if err := parseFlags(a, fs, "validate FILE | default", scenarioAbout, args); err != nil {
		return err
	}
	switch fs.Arg(0) {
	case "default":
		if fs.NArg() != 1 {
			return usagef("'scenario default' takes no arguments")
		}
		b, err := defaultConfigJSON()
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(append(b, '\n'))
		return err
	case "validate":
		if fs.NArg() != 2 {
			return usagef("want 'scenario validate FILE'")
		}
		return validateFile(a, fs.Arg(1))
	case "":
		return usagef("want 'scenario validate FILE' or 'scenario default'")
	default:
		return usagef("unknown subcommand %q; want validate or default", fs.Arg(0))
	}
}

// defaultConfigJSON is the built-in scenario as a config file, with empty
// faults and the default options spelt out as a template.
func defaultConfigJSON() ([]byte, error) {
	cfg, _ := loadConfig("")
	return marshalConfig(cfg.Scenario, nil, configOptions{Mode: string(emulator.ModeAppService), Addr: "127.0.0.1"})
}

// validateFile prints one line per problem, "FILE: path: problem", like a
// compiler, so that editors can jump to it and CI logs read well.
func validateFile(a *app, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cfg, err := parseConfig(data)
	var ce *configError
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Fprintf(a.stderr, "%s: %s\n", path, p)
		}
		return exitCode(exitFailure)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: valid: %s, %s, %s, %s, %s, %s\n", path,
		count(len(cfg.Scenario.Tenants), "tenant", "tenants"), count(len(cfg.Scenario.Apps), "app", "apps"),
		count(len(cfg.Scenario.Consents), "consent", "consents"),
		count(len(cfg.Scenario.ManagedIdentities), "managed identity", "managed identities"),
		count(len(cfg.Scenario.Issuers), "issuer", "issuers"), count(len(cfg.Faults), "fault", "faults"))
	return nil
}
