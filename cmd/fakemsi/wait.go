package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

const waitAbout = `
Wait until a 'fakemsi serve --env-file PATH' started in the background is
ready: PATH exists (serve writes it atomically, so it is complete) and every
listener it names accepts connections (so an env file left over from an
earlier run does not count). Exit 0 when ready, 1 after the timeout.

    fakemsi serve --env-file fake.env > /dev/null &
    fakemsi wait --env-file fake.env --timeout 30s
    set -a; . ./fake.env; set +a`

// waitPoll is how often wait looks at the file and the listeners again.
const waitPoll = 50 * time.Millisecond

func runWait(a *app, args []string) error {
	fs := newFlagSet("wait")
	envFile := fs.String("env-file", "", "the `PATH` given to 'fakemsi serve --env-file'")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this `duration`")
	if err := parseFlags(a, fs, "--env-file PATH [--timeout D]", waitAbout, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected argument %q", fs.Arg(0))
	case *envFile == "":
		return usagef("--env-file is required")
	case *timeout <= 0:
		return usagef("--timeout: %v is not a positive duration", *timeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for {
		why := envFileReady(ctx, *envFile)
		if why == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v: %w", *envFile, *timeout, why)
		case <-tick.C:
		}
	}
}

// envFileReady says why the env file at path does not describe a running
// emulator yet, or nil when it does. Errors name variables and addresses,
// never values: the file holds the identity header.
func envFileReady(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, iofs.ErrNotExist) {
		return errors.New("the file does not exist yet")
	}
	if err != nil {
		return err
	}
	addrs := map[string]string{} // host:port -> the first variable naming it
	for i, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || name == "" {
			return fmt.Errorf("line %d is not KEY=VALUE", i+1)
		}
		u, err := url.Parse(value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" {
			continue
		}
		if _, seen := addrs[u.Host]; !seen {
			addrs[u.Host] = name
		}
	}
	if len(addrs) == 0 {
		return errors.New("the file names no listener")
	}
	hosts := make([]string, 0, len(addrs))
	for h := range addrs {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	var d net.Dialer
	for _, h := range hosts {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dctx, "tcp", h)
		cancel()
		if err != nil {
			return fmt.Errorf("%s (%s) does not accept connections", addrs[h], h)
		}
		c.Close()
	}
	return nil
}

// readyFD is serve's --ready-fd: a file descriptor, inherited from the
// process that started serve, on which serve writes one line once it is
// ready. A supervisor that starts serve with an extra pipe (Node's spawn
// with a fourth stdio entry, Go's exec.Cmd.ExtraFiles) reads that line
// instead of polling for the env file.
type readyFD struct {
	fd int
	f  *os.File
}

func registerReadyFD(fs *flag.FlagSet) *readyFD {
	r := &readyFD{fd: -1}
	fs.IntVar(&r.fd, "ready-fd", -1, "once ready, write the line \"ready\" to the inherited file descriptor `N` (3 or more) and close it")
	return r
}

// open checks the descriptor before the emulator starts, so that a wrong
// number is a usage error rather than a server nobody hears from.
func (r *readyFD) open() error {
	if r.fd == -1 {
		return nil
	}
	if r.fd < 3 {
		return usagef("--ready-fd: %d is stdin, stdout or stderr; want an extra descriptor, 3 or more", r.fd)
	}
	f := os.NewFile(uintptr(r.fd), "ready-fd")
	if f == nil {
		return usagef("--ready-fd: %d is not a file descriptor", r.fd)
	}
	// Only a pipe, socket, file or terminal: a descriptor nobody passed us
	// may be one of the Go runtime's own (an epoll or event descriptor),
	// which must not be written to or closed.
	fi, err := f.Stat()
	if err != nil {
		return usagef("--ready-fd: %d is not an open file descriptor", r.fd)
	}
	if fi.Mode()&os.ModeIrregular != 0 {
		return usagef("--ready-fd: %d is not a pipe, socket or file", r.fd)
	}
	r.f = f
	return nil
}

// signal writes the ready line and closes the descriptor; without
// --ready-fd it does nothing.
func (r *readyFD) signal() error {
	if r.f == nil {
		return nil
	}
	_, werr := r.f.WriteString("ready\n")
	cerr := r.f.Close()
	r.f = nil
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("--ready-fd %d: %w", r.fd, err)
	}
	return nil
}
