package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/internal/localca"
)

// serverFlags are the flags shared by serve and exec: what to emulate, where
// to listen, how to log. Each command registers them on its own FlagSet.
type serverFlags struct {
	config string
	mode   string
	addr   string
	// allowNonLoopback is --allow-non-loopback: only the command line can
	// say it, never a config file, so that a shared config cannot quietly
	// serve tokens to the network.
	allowNonLoopback bool
	entraPort        int
	msiPort          int
	graphPort        int
	armPort          int
	caFile           string
	arcKeyDir        string
	localCA          bool
	caDir            string
	faults           stringList
	log              logFlags
}

func (f *serverFlags) register(fs *flag.FlagSet, defaultLogLevel string) {
	fs.StringVar(&f.config, "config", "", "config `FILE`: a scenario JSON with optional faults and options sections (default: the built-in scenario)")
	fs.StringVar(&f.mode, "mode", "", "platform of the environment: "+modeNames()+" (default appservice, or the config's options.mode)")
	fs.StringVar(&f.addr, "addr", "", "loopback `address` the listeners bind (default 127.0.0.1)")
	fs.BoolVar(&f.allowNonLoopback, "allow-non-loopback", false, "let --addr (or the config's addr) be an address that is not loopback, such as 0.0.0.0: everyone who can reach it gets tokens")
	fs.IntVar(&f.entraPort, "entra-port", 0, "`port` of the Entra HTTPS listener (default: a free port)")
	fs.IntVar(&f.msiPort, "msi-port", 0, "`port` of the managed-identity HTTP listener (default: a free port)")
	fs.IntVar(&f.graphPort, "graph-port", 0, "`port` of the Graph HTTPS listener (default: a free port)")
	fs.IntVar(&f.armPort, "arm-port", 0, "`port` of the Azure Resource Manager HTTPS listener (default: a free port)")
	fs.StringVar(&f.caFile, "ca-file", "", "write the CA bundle to `PATH` (default: a file in a temporary directory, removed on exit)")
	fs.StringVar(&f.arcKeyDir, "arc-key-dir", "", "arc mode: existing `DIR` for the challenge key files (default: a directory of the emulator's; clients that trust only the agent's need /var/opt/azcmagent/tokens)")
	fs.BoolVar(&f.localCA, "local-ca", false, "issue the HTTPS listeners' certificates from the persistent local CA ('fakemsi ca'), made on first use; for clients that trust only the OS store")
	fs.StringVar(&f.caDir, "local-ca-dir", "", "`DIR` of the persistent local CA (default: fakemsi under the user config directory; implies --local-ca)")
	fs.Var(&f.faults, "fault", "inject a fault, e.g. 'token:429:retry-after=2:count=3' or 'graph:503:count=1' (repeatable; see docs/fakemsi.md)")
	fs.StringVar(&f.log.format, "log-format", "text", "request log format: text or json")
	fs.StringVar(&f.log.level, "log-level", defaultLogLevel, "request log level: debug, info, warn or error")
	fs.StringVar(&f.log.file, "log-file", "", "append the request log to `PATH` instead of stderr")
}

// resolve loads the config and merges it with the flags into the emulator's
// options (all but the logger, which the command builds last); a flag given
// on the command line wins over the config's options.
func (f *serverFlags) resolve(fs *flag.FlagSet) (emulator.Options, error) {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })

	if f.mode != "" && !emulator.Mode(f.mode).Valid() {
		return emulator.Options{}, usagef("--mode: %q is not one of %s", f.mode, modeNames())
	}
	for name, p := range map[string]int{"entra-port": f.entraPort, "msi-port": f.msiPort, "graph-port": f.graphPort, "arm-port": f.armPort} {
		if p < 0 || p > 65535 {
			return emulator.Options{}, usagef("--%s: %d is not a TCP port", name, p)
		}
	}
	var faults []emulator.Fault
	for _, spec := range f.faults {
		ft, err := emulator.ParseFault(spec)
		if err != nil {
			return emulator.Options{}, usagef("--fault: %s", trimPrefix(err.Error()))
		}
		faults = append(faults, ft)
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return emulator.Options{}, err
	}
	o := cfg.Options
	opts := optionsFromConfig(cfg)
	// Unset in both, Mode and Addr stay "": the emulator's defaults.
	if f.mode != "" {
		opts.Mode = emulator.Mode(f.mode)
	}
	opts.Addr = firstNonEmpty(f.addr, o.Addr)
	if opts.Addr != "" && !emulator.IsLoopbackHost(opts.Addr) && !f.allowNonLoopback {
		return emulator.Options{}, usagef("%s %q is not a loopback address, and the emulator gives tokens to whoever asks; add --allow-non-loopback if you mean it", addrSource(set), opts.Addr)
	}
	opts.AllowNonLoopback = f.allowNonLoopback
	opts.EntraPort, opts.MSIPort, opts.GraphPort, opts.ARMPort = o.EntraPort, o.MSIPort, o.GraphPort, o.ARMPort
	opts.CAFile = f.caFile
	opts.ArcKeyDirectory = f.arcKeyDir
	if f.localCA || f.caDir != "" {
		dir, err := caDir(f.caDir)
		if err != nil {
			return emulator.Options{}, err
		}
		ca, _, err := localca.LoadOrCreate(dir, caCertName)
		if err != nil {
			return emulator.Options{}, err
		}
		opts.CA = &ca
	}
	// Config faults first: they describe the scenario; flags add to them.
	opts.Faults = append(opts.Faults, faults...)
	if set["entra-port"] {
		opts.EntraPort = f.entraPort
	}
	if set["msi-port"] {
		opts.MSIPort = f.msiPort
	}
	if set["graph-port"] {
		opts.GraphPort = f.graphPort
	}
	if set["arm-port"] {
		opts.ARMPort = f.armPort
	}
	return opts, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// addrSource names where the listen address came from, for messages.
func addrSource(set map[string]bool) string {
	if set["addr"] {
		return "--addr"
	}
	return "the config's addr"
}

// warnNonLoopback prints, on w (stderr) and whatever the log level, that the
// listeners are about to bind a non-loopback address.
func warnNonLoopback(w io.Writer, opts emulator.Options) {
	if opts.Addr == "" || emulator.IsLoopbackHost(opts.Addr) {
		return
	}
	fmt.Fprintf(w, "fakemsi: WARNING: --allow-non-loopback: listening on %s; anyone who can reach it gets valid-looking tokens\n", opts.Addr)
}
