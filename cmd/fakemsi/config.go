package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// A config file is a fakeidp scenario (the JSON of fakeidp.Scenario) plus two
// optional sections that only the command reads:
//
//	{
//	  "tenants": [...], "apps": [...], "consents": [...],
//	  "managedIdentities": [...], "issuers": [...],
//	  "faults": ["token:429:retry-after=2:count=3", "graph:503:count=1"],
//	  "options": {"mode": "appservice", "tokenLifetime": "75m"}
//	}
//
// Keeping the scenario at the top level (rather than under a "scenario" key)
// means the output of `fakemsi scenario default` and a plain scenario file
// written for the fakeidp package are both valid configs.
type config struct {
	Scenario *fakeidp.Scenario
	Faults   []emulator.Fault // in the order written
	Options  configOptions
}

// configOptions is the "options" section. Every field has a flag of the same
// meaning; a flag given on the command line wins.
type configOptions struct {
	// Mode is the managed-identity flavour of the environment block:
	// appservice (default), imds or workload.
	Mode string `json:"mode,omitempty"`
	// Addr is the loopback address the listeners bind (default 127.0.0.1).
	Addr string `json:"addr,omitempty"`
	// Ports of the four listeners; 0 picks a free port.
	EntraPort int `json:"entraPort,omitempty"`
	MSIPort   int `json:"msiPort,omitempty"`
	GraphPort int `json:"graphPort,omitempty"`
	ARMPort   int `json:"armPort,omitempty"`
	// App is the client ID of the app that AZURE_CLIENT_ID names; default the
	// first multi-tenant app of the scenario.
	App string `json:"app,omitempty"`
	// TokenLifetime of the access tokens and managed-identity tokens fakeidp
	// issues; default fakeidp's.
	TokenLifetime duration `json:"tokenLifetime,omitempty"`
	// WorkloadTokenLifetime of the projected token file in workload mode
	// (default 1h, as AKS projects); it is rewritten at 80% of it.
	WorkloadTokenLifetime duration `json:"workloadTokenLifetime,omitempty"`
}

// duration is a time.Duration written as a Go duration string ("75m").
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "75m"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"75m\"", s)
	}
	if v <= 0 {
		return fmt.Errorf("%q must be positive", s)
	}
	*d = duration(v)
	return nil
}

// configError lists every problem of a config, each naming its field path.
type configError struct {
	Problems []string
}

func (e *configError) Error() string { return strings.Join(e.Problems, "; ") }

// loadConfig reads a config file; an empty path means the default scenario
// with no faults and no options.
func loadConfig(path string) (*config, error) {
	if path == "" {
		return &config{Scenario: fakeidp.DefaultScenario()}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// The *PathError already names the file and the reason.
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// parseConfig decodes and validates a config. Its error is a *configError.
func parseConfig(data []byte) (*config, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&top); err != nil {
		return nil, &configError{Problems: []string{jsonProblem(data, err)}}
	}
	if dec.More() {
		return nil, &configError{Problems: []string{"trailing data after the JSON object"}}
	}
	if top == nil {
		return nil, &configError{Problems: []string{"the config is null; want a JSON object"}}
	}
	cfg := &config{}
	var own []string // problems of the faults and options sections
	if raw, ok := top["faults"]; ok {
		delete(top, "faults")
		own = append(own, cfg.parseFaults(raw)...)
	}
	if raw, ok := top["options"]; ok {
		delete(top, "options")
		own = append(own, cfg.parseOptions(raw)...)
	}
	// The rest is the scenario; fakeidp checks it and names field paths.
	rest, err := json.Marshal(top)
	if err != nil {
		return nil, &configError{Problems: []string{err.Error()}}
	}
	// Scenario problems first: that is the order of a config file.
	var problems []string
	sc, err := fakeidp.ParseScenario(rest)
	if err != nil {
		problems = append(problems, scenarioProblems(err)...)
	} else {
		cfg.Scenario = sc
		problems = append(problems, cfg.checkReferences()...)
	}
	problems = append(problems, own...)
	if len(problems) > 0 {
		return nil, &configError{Problems: problems}
	}
	return cfg, nil
}

func (c *config) parseFaults(raw json.RawMessage) []string {
	var specs []string
	if err := json.Unmarshal(raw, &specs); err != nil {
		return []string{`faults: want a list of fault strings such as "token:429:retry-after=2:count=3"`}
	}
	var problems []string
	for i, s := range specs {
		f, err := emulator.ParseFault(s)
		if err != nil {
			problems = append(problems, fmt.Sprintf("faults[%d]: %s", i, trimPrefix(err.Error())))
			continue
		}
		c.Faults = append(c.Faults, f)
	}
	return problems
}

// parseOptions decodes the options one by one, so that every problem names
// its option and all of them are reported at once.
func (c *config) parseOptions(raw json.RawMessage) []string {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return []string{"options: want a JSON object"}
	}
	o := &c.Options
	targets := map[string]any{
		"mode": &o.Mode, "addr": &o.Addr, "app": &o.App,
		"entraPort": &o.EntraPort, "msiPort": &o.MSIPort, "graphPort": &o.GraphPort, "armPort": &o.ARMPort,
		"tokenLifetime": &o.TokenLifetime, "workloadTokenLifetime": &o.WorkloadTokenLifetime,
	}
	known := slices.Sorted(maps.Keys(targets))
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		dst, ok := targets[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("options.%s: unknown option (known: %s)", name, strings.Join(known, ", ")))
			continue
		}
		if err := json.Unmarshal(fields[name], dst); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				problems = append(problems, fmt.Sprintf("options.%s: cannot use JSON %s as %s", name, te.Value, te.Type))
			} else {
				problems = append(problems, fmt.Sprintf("options.%s: %s", name, trimPrefix(err.Error())))
			}
			continue
		}
		if p := checkOption(name, o); p != "" {
			problems = append(problems, fmt.Sprintf("options.%s: %s", name, p))
		}
	}
	return problems
}

// checkOption checks the value of a decoded option; "" means fine.
func checkOption(name string, o *configOptions) string {
	port := func(p int) string {
		if p < 0 || p > 65535 {
			return fmt.Sprintf("%d is not a TCP port", p)
		}
		return ""
	}
	switch name {
	case "mode":
		if !emulator.Mode(o.Mode).Valid() {
			return fmt.Sprintf("%q is not one of %s", o.Mode, modeNames())
		}
	case "entraPort":
		return port(o.EntraPort)
	case "msiPort":
		return port(o.MSIPort)
	case "graphPort":
		return port(o.GraphPort)
	case "armPort":
		return port(o.ARMPort)
	}
	return ""
}

// checkReferences checks what the command needs beyond a valid scenario.
func (c *config) checkReferences() []string {
	if c.Options.App != "" {
		for _, a := range c.Scenario.Apps {
			if a.ClientID == c.Options.App {
				return nil
			}
		}
		return []string{fmt.Sprintf("options.app: %q is not the clientId of one of the apps", c.Options.App)}
	}
	if len(c.Scenario.Apps) == 0 {
		return []string{"apps: empty; fakemsi needs an app registration for AZURE_CLIENT_ID"}
	}
	return nil
}

// scenarioProblems splits fakeidp's error into its field-path problems.
func scenarioProblems(err error) []string {
	var ve *fakeidp.ValidationError
	if errors.As(err, &ve) {
		return ve.Problems
	}
	return []string{trimPrefix(err.Error())}
}

// trimPrefix drops the package prefixes of the emulator's and fakeidp's
// messages: in fakemsi's one line they only repeat what it already says.
func trimPrefix(s string) string {
	s = strings.TrimPrefix(s, "emulator: ")
	s = strings.TrimPrefix(s, "fakeidp: ")
	s = strings.TrimPrefix(s, "graphtest: ")
	s = strings.TrimPrefix(s, "scenario: ")
	s = strings.TrimPrefix(s, "json: ")
	return s
}

// jsonProblem describes a JSON syntax error with its line and column.
func jsonProblem(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, se.Offset)
		return fmt.Sprintf("line %d, column %d: %s", line, col, se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field == "" {
		return fmt.Sprintf("the config is a JSON %s; want an object", te.Value)
	}
	if errors.Is(err, io.EOF) {
		return "empty file; want a JSON object"
	}
	return trimPrefix(err.Error())
}

func lineCol(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// marshalConfig renders a config the way `fakemsi scenario default` prints it:
// the scenario's fields, then faults and options.
func marshalConfig(sc *fakeidp.Scenario, faults []string, opts configOptions) ([]byte, error) {
	type file struct {
		*fakeidp.Scenario
		Faults  []string      `json:"faults"`
		Options configOptions `json:"options"`
	}
	if faults == nil {
		faults = []string{}
	}
	return json.MarshalIndent(file{Scenario: sc, Faults: faults, Options: opts}, "", "  ")
}
