package main

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"os/exec"
	"os/signal"
)

const execAbout = `
Start the emulator, run CMD with the environment block added to this
process's environment, and stop the emulator when CMD exits. fakemsi exits
with CMD's exit status (128+N when CMD was killed by signal N, 127 when CMD
cannot be found, 126 when it cannot be run). SIGINT, SIGTERM, SIGHUP and
SIGQUIT are forwarded to CMD.

This is how a test suite in any language runs against the emulator:

    fakemsi exec -- go test ./...
    fakemsi exec -- npm test
    fakemsi exec --mode workload -- pytest

Request logs go to stderr (only warnings by default, to keep test output
readable; --log-level info shows every request, --log-file keeps them apart).`

func runExec(a *app, args []string) error {
	fs := newFlagSet("exec")
	var sf serverFlags
	sf.register(fs, "warn")
	if err := parseFlags(a, fs, "[flags] -- CMD [ARGS...]", execAbout, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("no command to run: want 'fakemsi exec [flags] -- CMD [ARGS...]'")
	}
	opts, err := sf.resolve(fs)
	if err != nil {
		return err
	}
	logger, closeLog, err := sf.log.newLogger(a.stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	opts.Logger = logger

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)

	warnNonLoopback(a.stderr, opts)
	e, err := startEmulator(opts)
	if err != nil {
		return err
	}
	defer e.Close()

	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Env = e.Env().Merge(os.Environ())
	cmd.Stdin = os.Stdin
	cmd.Stdout = a.stdout
	cmd.Stderr = a.stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(a.stderr, "fakemsi exec: %s: %v\n", fs.Arg(0), unwrapExecError(err))
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, iofs.ErrNotExist) {
			return exitCode(127)
		}
		return exitCode(126)
	}

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
loop:
	for {
		select {
		case sig := <-sigs:
			// The child decides what a signal means; we follow its exit.
			forward(cmd.Process, sig)
		case werr = <-waited:
			break loop
		}
	}
	e.Close()
	if ps := cmd.ProcessState; ps == nil {
		// Wait failed without the child's status (an I/O copy error).
		return fmt.Errorf("waiting for %s: %w", fs.Arg(0), werr)
	}
	return exitCode(childStatus(cmd.ProcessState))
}

// unwrapExecError drops os/exec's repetition of the command name.
func unwrapExecError(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
