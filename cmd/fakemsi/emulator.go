package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/emulator"
)

// optionsFromConfig is what every command takes from a config file: the
// scenario, its faults and the options that shape the scenario's run. serve
// and exec add the listeners' address and ports; demo always uses loopback
// and free ports.
func optionsFromConfig(cfg *config) emulator.Options {
	opts := emulator.Options{
		Scenario:              cfg.Scenario,
		Mode:                  emulator.Mode(cfg.Options.Mode),
		App:                   cfg.Options.App,
		TokenLifetime:         time.Duration(cfg.Options.TokenLifetime),
		WorkloadTokenLifetime: time.Duration(cfg.Options.WorkloadTokenLifetime),
	}
	setFaults(&opts, cfg.Faults)
	return opts
}

// setFaults gives the emulator the faults of fs, each server's in order.
func setFaults(opts *emulator.Options, fs faultSet) {
	opts.Faults = slices.Concat(fs.idp, fs.graph)
}

// startEmulator starts the emulator and keeps its error to the words a user
// acts on: the package prefix only repeats what "fakemsi serve:" says.
func startEmulator(opts emulator.Options) (*emulator.Emulator, error) {
	e, err := emulator.Start(&opts)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "emulator: "))
	}
	return e, nil
}

// describe is the one-line summary serve prints on stderr.
func describe(e *emulator.Emulator) string {
	return fmt.Sprintf("fakemsi: %s mode; Entra %s, managed identity %s, Graph %s",
		e.Mode(), e.AuthorityHost(), e.MSIURL(), e.Graph().URL())
}

// modeNames lists the modes for messages: "appservice, imds, workload".
func modeNames() string {
	var names []string
	for _, m := range emulator.Modes() {
		names = append(names, string(m))
	}
	return strings.Join(names, ", ")
}
