package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const serveAbout = `
Start the emulator: the managed-identity listener (plain HTTP, as on App
Service and IMDS), the Entra, Graph and Azure Resource Manager listeners
(HTTPS, with their CAs written to one PEM bundle). Print the environment block as export
lines on stdout and run until SIGINT or SIGTERM; then stop accepting
requests, let the ones in flight finish, free the ports and remove the
temporary files. A second signal exits at once.

    fakemsi serve --env-file fake.env > /dev/null &
    fakemsi wait --env-file fake.env  # until the file exists and the listeners answer
    set -a; . ./fake.env; set +a

Request logs (one line per request, secrets redacted) go to stderr.`

func runServe(a *app, args []string) error {
	fs := newFlagSet("serve")
	var sf serverFlags
	sf.register(fs, "info")
	envFile := fs.String("env-file", "", "also write the environment block as KEY=VALUE lines to `PATH` (atomically: once it exists it is complete)")
	ready := registerReadyFD(fs)
	if err := parseFlags(a, fs, "[flags]", serveAbout, args); err != nil {
		return err
	}
	if err := ready.open(); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (did you mean 'fakemsi exec -- %s'?)", fs.Arg(0), fs.Arg(0))
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

	// Subscribe before starting, so that a signal sent as soon as the block is
	// printed is not lost (and does not kill us with the default action).
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	warnNonLoopback(a.stderr, opts)
	e, err := startEmulator(opts)
	if err != nil {
		return err
	}
	// Until the shutdown below takes over, every return stops the emulator.
	shuttingDown := false
	defer func() {
		if !shuttingDown {
			e.Close()
		}
	}()

	if *envFile != "" {
		if err := e.Env().WriteFile(*envFile); err != nil {
			return fmt.Errorf("--env-file: %w", err)
		}
	}
	if err := writeExports(a.stdout, e.Env()); err != nil {
		return err
	}
	if err := ready.signal(); err != nil {
		return err
	}
	fmt.Fprintln(a.stderr, describe(e)+"; stop with Ctrl-C")

	sig := <-sigs
	logger.Info("shutting down", slog.String("signal", sig.String()))
	shuttingDown = true
	// A second signal means "now": Shutdown then leaves the in-flight
	// requests to die with the process, but still removes the temporary
	// files, which hold the CA and maybe a token.
	ctx, abandon := context.WithCancelCause(context.Background())
	defer abandon(nil)
	go func() {
		select {
		case sig := <-sigs:
			abandon(fmt.Errorf("second %s during shutdown", sig))
		case <-ctx.Done():
		}
	}()
	if e.Shutdown(ctx) != nil {
		return fmt.Errorf("%w; exiting without waiting for in-flight requests", context.Cause(ctx))
	}
	return nil
}
