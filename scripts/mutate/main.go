// Command mutate measures how many plausible bugs the test suite catches.
// It copies the repository (tracked and untracked files, as `git ls-files`
// lists them) to a scratch directory, then for each mutation in the list
// (mutations.txt beside this file) replaces one line's text in one file,
// runs the tests of the packages the mutation names, and restores the file.
// A mutation is caught when the tests fail; it is invalid when the changed
// code does not compile (go vet fails) or its text is not found exactly once,
// and an invalid entry fails the run as a missed one does, so the list
// cannot rot silently as the code moves.
//
//	go run ./scripts/mutate                 # every mutation (make mutate)
//	go run ./scripts/mutate -run leak       # those whose name matches
//
// The list format, one mutation per block, blocks separated by blank lines:
//
//	name: leak: the JWT pattern forgets '-' and '_'
//	file: internal/leak/leak.go
//	from: `eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`
//	to:   `eyJ[A-Za-z0-9]*\.[A-Za-z0-9]*\.[A-Za-z0-9]*`
//	test: ./internal/leak/... ./federated/...
//
// from and to are the rest of their line, verbatim after one run of spaces.
// Grow the list whenever a bug slips through the suite: first the mutation
// that reproduces it (reported missed), then the test that catches it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// A mutation is one small bug: the text from, found exactly once in file,
// becomes to; the tests of the packages test must then fail.
type mutation struct {
	name, file, from, to string
	test                 []string
	line                 int // of the block in the list, for messages
}

// An outcome is what the tests said about one mutation.
type outcome int

const (
	caught outcome = iota
	missed
	invalid
)

func (o outcome) String() string {
	return [...]string{"caught", "MISSED", "INVALID"}[o]
}

func main() {
	list := flag.String("list", "scripts/mutate/mutations.txt", "the mutation list")
	run := flag.String("run", "", "only mutations whose name matches this regular expression")
	timeout := flag.Duration("timeout", 2*time.Minute, "per mutation: a test run longer than this counts as caught (a hang is a failure) but is reported")
	keep := flag.Bool("keep", false, "keep the scratch copy and print its path")
	flag.Parse()
	if err := mainErr(*list, *run, *timeout, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

func mainErr(listPath, run string, timeout time.Duration, keep bool) error {
	muts, err := parseFile(listPath)
	if err != nil {
		return err
	}
	if run != "" {
		re, err := regexp.Compile(run)
		if err != nil {
			return fmt.Errorf("-run: %w", err)
		}
		var sel []mutation
		for _, m := range muts {
			if re.MatchString(m.name) {
				sel = append(sel, m)
			}
		}
		muts = sel
	}
	if len(muts) == 0 {
		return errors.New("no mutations to run")
	}
	scratch, err := os.MkdirTemp("", "tenantbridge-mutate-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("scratch copy:", scratch)
	} else {
		defer os.RemoveAll(scratch)
	}
	if err := copyRepo(scratch); err != nil {
		return fmt.Errorf("copying the repository: %w", err)
	}
	counts := map[outcome]int{}
	start := time.Now()
	for i, m := range muts {
		t0 := time.Now()
		o, detail := apply(scratch, m, timeout)
		counts[o]++
		fmt.Printf("[%2d/%d] %-7s %s (%s, %.1fs)\n", i+1, len(muts), o, m.name, m.file, time.Since(t0).Seconds())
		if detail != "" {
			fmt.Printf("        %s\n", detail)
		}
	}
	fmt.Printf("\nscore: %d of %d mutations caught (%d missed, %d invalid) in %s, %s\n",
		counts[caught], len(muts), counts[missed], counts[invalid], time.Since(start).Round(time.Second), time.Now().UTC().Format("2006-01-02"))
	if counts[missed]+counts[invalid] > 0 {
		return fmt.Errorf("%d mutations missed and %d invalid: add the test that catches each missed one, fix or drop each invalid one", counts[missed], counts[invalid])
	}
	return nil
}

// apply makes the mutation in the scratch copy, runs its tests, and restores
// the file whatever happens.
func apply(root string, m mutation, timeout time.Duration) (outcome, string) {
	path := filepath.Join(root, filepath.FromSlash(m.file))
	orig, err := os.ReadFile(path)
	if err != nil {
		return invalid, err.Error()
	}
	if n := bytes.Count(orig, []byte(m.from)); n != 1 {
		return invalid, fmt.Sprintf("list line %d: the from text occurs %d times in %s, want once", m.line, n, m.file)
	}
	if err := os.WriteFile(path, bytes.Replace(orig, []byte(m.from), []byte(m.to), 1), 0o644); err != nil {
		return invalid, err.Error()
	}
	defer os.WriteFile(path, orig, 0o644)

	// A mutation that does not compile would be "caught" by any suite.
	if out, err := goCmd(root, timeout, append([]string{"vet"}, m.test...)...); err != nil {
		return invalid, "does not build or vet: " + firstLines(out, 3)
	}
	out, err := goCmd(root, timeout, append([]string{"test", "-count=1", "-timeout", timeout.String()}, m.test...)...)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(out, "panic: test timed out"):
		return caught, "caught only by the test timeout: a test waits or loops without a bound"
	case err != nil:
		return caught, ""
	default:
		return missed, "every test of " + strings.Join(m.test, " ") + " passed: " + firstLines(out, 2)
	}
}

func goCmd(dir string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), context.DeadlineExceeded
	}
	return string(out), err
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}

// copyRepo copies the files git knows of (tracked, and untracked but not
// ignored) from the current directory, the repository root, to dst.
func copyRepo(dst string) error {
	out, err := exec.Command("git", "ls-files", "-z", "-co", "--exclude-standard").Output()
	if err != nil {
		return fmt.Errorf("git ls-files (run from the repository root): %w", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if f == "" || strings.HasPrefix(f, "interop/js/node_modules/") {
			continue
		}
		if err := copyFile(f, filepath.Join(dst, f)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil // deleted in the work tree but still tracked
	}
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil || fi.IsDir() {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func parseFile(path string) ([]mutation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f, path)
}

// parse reads the list format of the package comment.
func parse(r io.Reader, name string) ([]mutation, error) {
	var (
		out  []mutation
		cur  *mutation
		line int
	)
	finish := func() error {
		if cur == nil {
			return nil
		}
		m := *cur
		cur = nil
		switch {
		case m.name == "", m.file == "", m.from == "", len(m.test) == 0:
			return fmt.Errorf("%s:%d: a mutation needs name, file, from, to and test", name, m.line)
		case m.from == m.to:
			return fmt.Errorf("%s:%d: %q: from and to are the same", name, m.line, m.name)
		}
		out = append(out, m)
		return nil
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.HasPrefix(text, "#") {
			continue
		}
		if strings.TrimSpace(text) == "" {
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		}
		key, val, ok := strings.Cut(text, ":")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want key: value", name, line)
		}
		val = strings.TrimLeft(val, " ")
		if cur == nil {
			cur = &mutation{line: line}
		}
		switch key {
		case "name":
			cur.name = val
		case "file":
			cur.file = val
		case "from":
			cur.from = val
		case "to":
			cur.to = val
		case "test":
			cur.test = strings.Fields(val)
		default:
			return nil, fmt.Errorf("%s:%d: unknown key %q", name, line, key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return out, nil
}
