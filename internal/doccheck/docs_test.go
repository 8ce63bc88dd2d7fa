//go:build doccheck

// TestDocs checks every fenced block of every Markdown file of the
// repository. It needs the go tool and bash, builds a scratch module and
// runs commands, so it has its own build tag: `make docs` runs it (and
// `make test` runs `make docs`); a plain `go test ./...` neither runs it nor
// counts it as passed.
package doccheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

const modulePath = "github.com/tenantbridge/tenantbridge"

// cmdTimeout bounds each command the check runs.
const cmdTimeout = 5 * time.Minute

func TestDocs(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pages := markdownFiles(t, root)
	if len(pages) < 5 {
		t.Fatalf("found %d Markdown files under %s; is this the repository root?", len(pages), root)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	mod := filepath.Join(tmp, "mod")
	run(t, root, nil, "go", "build", "-o", filepath.Join(bin, "fakemsi"), "./cmd/fakemsi")
	writeScratchModule(t, root, mod)

	type page struct {
		file   string
		dir    string // the page's own package directory when it has file blocks
		blocks []Block
	}
	var (
		all        []page
		testPkgs   []string // ./sNNN packages whose TestSnippet runs
		mainPkgs   []string // ./sNNN package main blocks that run
		nGo, nJSON int
	)
	for i, file := range pages {
		src, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		checkText(t, file, src, root)
		blocks, err := Extract(file, src)
		if err != nil {
			t.Error(err)
			continue
		}
		p := page{file: file, blocks: blocks}
		for _, b := range blocks {
			if b.Mode == ModeFile {
				p.dir = fmt.Sprintf("p%02d", i)
				writeFile(t, filepath.Join(mod, p.dir, b.Path), lineDirective(b)+b.Text)
			}
		}
		for j, b := range blocks {
			if !b.Checked() || b.Mode == ModeFile {
				continue
			}
			switch {
			case b.Lang == "go":
				nGo++
				pkg := fmt.Sprintf("s%02d%03d", i, j)
				gf, err := b.Go(pkg)
				if err != nil {
					t.Error(err)
					continue
				}
				writeFile(t, filepath.Join(mod, pkg, gf.Name), gf.Source)
				if b.Mode == ModeRun {
					if gf.Package == "main" {
						mainPkgs = append(mainPkgs, "./"+pkg)
					} else {
						testPkgs = append(testPkgs, "./"+pkg)
					}
				}
			case b.Lang == "json":
				nJSON++
				if !json.Valid([]byte(b.Text)) {
					t.Errorf("%s: json block does not decode", b.Pos())
				}
			}
		}
		all = append(all, p)
	}
	t.Logf("%d Markdown files, %d Go blocks, %d JSON blocks", len(pages), nGo, nJSON)

	goEnv := []string{"GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off", "GOTOOLCHAIN=local"}
	// Compile and vet every Go block at once; //line directives make the
	// messages point at the Markdown.
	if out, err := runOut(mod, goEnv, "go", "vet", "-unreachable=false", "./..."); err != nil {
		t.Errorf("Go blocks do not compile or vet:\n%s", scratchDirRE.ReplaceAllString(out, ""))
	}

	path := "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")
	// Only loopback: a block that tries to reach a real host (a forgotten
	// base URL) fails fast on a proxy that does not exist, without a DNS
	// lookup; loopback goes direct (Go never proxies it, curl is told).
	const deadProxy, loopback = "http://127.0.0.1:9", "127.0.0.1,localhost,::1"
	loopbackOnly := []string{
		"HTTP_PROXY=" + deadProxy, "HTTPS_PROXY=" + deadProxy, "NO_PROXY=" + loopback,
		"http_proxy=" + deadProxy, "https_proxy=" + deadProxy, "no_proxy=" + loopback,
		path,
	}
	runEnv := append(append([]string{}, goEnv...), loopbackOnly...)
	fakemsi := filepath.Join(bin, "fakemsi")
	if len(testPkgs) > 0 {
		args := append([]string{"exec", "--", "go", "test", "-count=1"}, testPkgs...)
		out, err := runOut(mod, runEnv, fakemsi, args...)
		if err != nil {
			t.Errorf("Go blocks marked run failed under fakemsi exec:\n%s", out)
		} else {
			t.Logf("Go blocks marked run:\n%s", out)
		}
	}
	for _, p := range mainPkgs {
		if out, err := runOut(mod, runEnv, fakemsi, "exec", "--", "go", "run", p); err != nil {
			t.Errorf("Go program %s marked run failed under fakemsi exec:\n%s", p, out)
		}
	}

	// Shell blocks: every one parses; the ones marked run run, in page order,
	// under fakemsi exec (in the page's scratch package when it has one).
	for _, p := range all {
		for _, b := range p.blocks {
			if !b.IsShell() || !b.Checked() {
				continue
			}
			script := filepath.Join(tmp, "sh", strings.NewReplacer("/", "_", ":", "_").Replace(b.Pos())+".sh")
			writeFile(t, script, b.Text)
			if out, err := runOut(tmp, nil, "bash", "-n", script); err != nil {
				t.Errorf("%s: shell syntax:\n%s", b.Pos(), out)
				continue
			}
			if b.Mode != ModeRun {
				continue
			}
			dir, env := root, loopbackOnly
			if p.dir != "" {
				dir, env = filepath.Join(mod, p.dir), runEnv
			}
			out, err := runOut(dir, env, fakemsi, "exec", "--", "bash", "-eo", "pipefail", script)
			if err != nil {
				t.Errorf("%s: marked run, failed under fakemsi exec:\n%s", b.Pos(), out)
				continue
			}
			t.Logf("%s: ran", b.Pos())
		}
	}
}

// markdownFiles lists the repository's Markdown files, relative to root,
// skipping dependencies and version control.
func markdownFiles(t *testing.T, root string) []string {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".md") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// scratchDirRE matches the scratch package directory that go vet puts
// before a //line file name.
var scratchDirRE = regexp.MustCompile(`(?m)\b[sp]\d{2,5}/`)

var linkRE = regexp.MustCompile(`\]\(([^)\s#]+)(?:#[^)\s]*)?\)`)

// checkText holds the rules about a page's prose: relative links lead to
// files that exist, and nothing points at documents readers cannot see.
func checkText(t *testing.T, file string, src []byte, root string) {
	t.Helper()
	for i, line := range strings.Split(string(src), "\n") {
		if strings.Contains(line, "DESIGN.md") {
			t.Errorf("%s:%d: cites DESIGN.md, which readers of the repository do not have", file, i+1)
		}
		for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, filepath.Dir(file), target)); err != nil {
				t.Errorf("%s:%d: link to %s: no such file", file, i+1, target)
			}
		}
	}
}

// writeScratchModule writes the module the Go blocks are compiled in: it
// requires this repository's module (replaced by the working tree) with the
// same dependencies, and has fakemsi as a tool, as a user's module would
// after `go get -tool`.
func writeScratchModule(t *testing.T, root, mod string) {
	t.Helper()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var requires strings.Builder
	inBlock := false
	for _, l := range strings.Split(string(gomod), "\n") {
		switch {
		case strings.HasPrefix(l, "require ("):
			inBlock = true
		case inBlock && strings.TrimSpace(l) == ")":
			inBlock = false
		case inBlock && strings.TrimSpace(l) != "":
			requires.WriteString(l + "\n")
		case strings.HasPrefix(l, "require "):
			requires.WriteString("\t" + strings.TrimPrefix(l, "require ") + "\n")
		}
	}
	goVersion := "1.26"
	if m := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(gomod); m != nil {
		goVersion = string(m[1])
	}
	writeFile(t, filepath.Join(mod, "go.mod"), fmt.Sprintf(`module example.com/doccheck

go %s

require (
	%s v0.0.0
%s)

replace %s => %s

tool %s/cmd/fakemsi
`, goVersion, modulePath, requires.String(), modulePath, root, modulePath))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(mod, "go.sum"), string(sum))
}

func lineDirective(b Block) string {
	if strings.HasSuffix(b.Path, ".go") {
		return fmt.Sprintf("//line %s:%d\n", b.File, b.Line)
	}
	return ""
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	if out, err := runOut(dir, env, name, args...); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// runOut runs a command with extra environment variables and returns its
// combined output.
func runOut(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, ended with the command: a block that starts a
	// server in the background and fails before stopping it leaves nothing
	// running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second // a background child holding the output pipe
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		return fmt.Sprintf("%s\n(%s %s in %s: %v)", out.String(), name, strings.Join(args, " "), dir, err), err
	}
	return out.String(), nil
}
