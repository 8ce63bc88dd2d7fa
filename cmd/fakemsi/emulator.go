package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// optionsFromConfig is what every command takes from a config file: the
// scenario, its faults and the options that shape the scenario's run. serve
// and exec add the listeners' address and ports; demo always uses loopback
// and free ports. Options the config leaves out stay zero: the emulator's
// defaults.
func optionsFromConfig(cfg *config) emulator.Options {
	return emulator.Options{
		Scenario:              cfg.Scenario,
		Mode:                  emulator.Mode(cfg.Options.Mode),
		App:                   cfg.Options.App,
		TokenLifetime:         time.Duration(cfg.Options.TokenLifetime),
		WorkloadTokenLifetime: time.Duration(cfg.Options.WorkloadTokenLifetime),
		Faults:                cfg.Faults,
	}
}

// startEmulator starts the emulator. Its error keeps the emulator's (a
// *emulator.ListenError for a taken port) for errors.As.
func startEmulator(opts emulator.Options) (*emulator.Emulator, error) {
	e, err := emulator.Start(&opts)
	if err != nil {
		return nil, &startError{err}
	}
	return e, nil
}

// startError is the emulator's start error as fakemsi prints it: without the
// package prefix, which only repeats what "fakemsi serve:" says.
type startError struct{ err error }

func (e *startError) Error() string { return trimPrefix(e.err.Error()) }
func (e *startError) Unwrap() error { return e.err }

// describe is the one-line summary serve prints on stderr.
func describe(e *emulator.Emulator) string {
	return fmt.Sprintf("fakemsi: %s mode; Entra %s, managed identity %s, Graph %s, ARM %s",
		e.Mode(), e.AuthorityHost(), e.MSIURL(), e.Graph().URL(), e.ARMURL())
}

// modeNames lists the modes for messages: "appservice, imds, workload".
func modeNames() string {
	var names []string
	for _, m := range emulator.Modes() {
		names = append(names, string(m))
	}
	return strings.Join(names, ", ")
}

func cloudNames() string {
	var names []string
	for _, c := range fakeidp.Clouds() {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}
