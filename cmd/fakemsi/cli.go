package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes. Usage errors exit 2 like the flag package and most Unix tools,
// so that a script can tell "you called me wrong" from "it did not work".
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand of fakemsi.
type command struct {
	name    string
	args    string // synopsis after the name
	summary string
	run     func(a *app, args []string) error
}

// app carries what every command writes to. Commands never touch os.Stdout or
// os.Stderr directly, so that their output is where the caller said.
type app struct {
	stdout io.Writer
	stderr io.Writer
}

// commands in the order of the usage text.
var commands []command

func init() {
	// Assigned in init because the help command refers back to the table.
	commands = []command{
		{"serve", "[flags]", "run the emulator until SIGINT/SIGTERM and print its environment block", runServe},
		{"wait", "--env-file PATH [--timeout D]", "wait until a serve started in the background is ready", runWait},
		{"exec", "[flags] -- CMD [ARGS...]", "run CMD with the emulator's environment; exit with CMD's status", runExec},
		{"env", "[--config FILE]", "print the scenario's IDs and what each environment variable means", runEnv},
		{"demo", "[--config FILE] [--mode MODE] [--cloud CLOUD]", "run the whole flow end to end: assertion, token per tenant, devices", runDemo},
		{"scenario", "validate FILE | default", "check a config file, or print the default one", runScenario},
		{"ca", "[flags] path|print|install|uninstall", "the persistent local CA for --local-ca, and the OS trust store", runCA},
		{"help", "[COMMAND]", "print this help, or a command's flags", runHelp},
	}
}

// usageError is a mistake in the command line; it exits 2 with one line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode ends the program with a code and no message of its own: the child
// of exec already spoke, or the command printed its own report.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// errHelp is returned by parseFlags after it printed a command's help.
var errHelp = errors.New("help requested")

// run executes the command line (without the program name) and returns the
// process exit code. Every error becomes exactly one line on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	}
	cmd := findCommand(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "fakemsi: unknown command %q (run 'fakemsi help')\n", args[0])
		return exitUsage
	}
	err := cmd.run(a, args[1:])
	var ue *usageError
	var ec exitCode
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ec):
		return int(ec)
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "fakemsi %s: %s (run 'fakemsi help %s')\n", cmd.name, oneLine(ue.msg), cmd.name)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "fakemsi %s: %s\n", cmd.name, oneLine(err.Error()))
		return exitFailure
	}
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// oneLine keeps an error to one line: the brief promise of the command is one
// clear line on stderr, whatever a library put in its message.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `fakemsi: an offline emulator of Microsoft Entra, Azure managed identity, Microsoft Graph and Azure Resource Manager.

Usage:
`)
	// The synopsis column is as wide as the longest synopsis, so that a
	// command gaining a flag in its synopsis does not break the alignment.
	width := 0
	for _, c := range commands {
		width = max(width, len(c.args))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  fakemsi %-9s %-*s  %s\n", c.name, width, c.args, c.summary)
	}
	fmt.Fprint(w, `
Run 'fakemsi help COMMAND' or 'fakemsi COMMAND -h' for a command's flags.
Documentation: docs/fakemsi.md.
`)
}

func runHelp(a *app, args []string) error {
	if len(args) == 0 {
		printUsage(a.stdout)
		return nil
	}
	if len(args) > 1 {
		return usagef("help takes at most one command name")
	}
	c := findCommand(args[0])
	if c == nil {
		return usagef("unknown command %q", args[0])
	}
	if c.name == "help" {
		printUsage(a.stdout)
		return nil
	}
	// Every command answers -h by printing its help and returning errHelp.
	return c.run(&app{stdout: a.stdout, stderr: a.stderr}, []string{"-h"})
}

// newFlagSet returns a FlagSet that reports nothing itself: parseFlags turns
// its errors into one line and its help into text on stdout.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("fakemsi "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args; on -h it prints the command's help to stdout and
// returns errHelp. about is the text shown above the flags.
func parseFlags(a *app, fs *flag.FlagSet, synopsis, about string, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(a.stdout, "Usage: %s %s\n\n%s\n", fs.Name(), synopsis, strings.TrimSpace(about))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(a.stdout, "\nFlags:\n")
			fs.SetOutput(a.stdout)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
		return errHelp
	}
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	return nil
}

// stringList is a repeatable string flag (--fault).
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ", ") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}
