// Package doccheck keeps the documentation honest: it reads the fenced code
// blocks of the repository's Markdown files and turns them into things a
// test can check (Go files to compile, shell scripts to parse or run).
// `make docs` (part of `make test`) runs the check; docs/testing.md
// describes the conventions a block follows.
//
// A block's checking is chosen by its info string and by an optional
// directive, an HTML comment on the line before the fence (blank lines
// between are allowed):
//
//	<!-- doccheck: run -->          run it (under `fakemsi exec`)
//	<!-- doccheck: azure -->        needs Azure: syntax only
//	<!-- doccheck: network -->      needs the internet: syntax only
//	<!-- doccheck: file PATH -->    a file of the page's scratch module
//	<!-- doccheck: skip -->         not checked (say why in the text)
package doccheck

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Mode is what a directive asks for.
type Mode string

const (
	ModeDefault Mode = ""        // compile (Go), parse (shell), decode (JSON)
	ModeRun     Mode = "run"     // also run it
	ModeAzure   Mode = "azure"   // needs Azure: syntax only
	ModeNetwork Mode = "network" // needs the internet: syntax only
	ModeFile    Mode = "file"    // a file of the page's scratch module
	ModeSkip    Mode = "skip"    // not checked
)

// Block is one fenced code block of a Markdown file.
type Block struct {
	File string // the Markdown file, as given to Extract
	Line int    // line of the first content line (1-based)
	Lang string // first word of the info string, lower-cased ("" when none)
	Mode Mode
	Path string // ModeFile: the file's path in the scratch module
	Text string // content, with the fence's indentation removed
}

// Pos is "file:line" of the block's first content line.
func (b Block) Pos() string { return fmt.Sprintf("%s:%d", b.File, b.Line) }

// Checked reports whether the block's language is one the checker checks.
func (b Block) Checked() bool {
	switch b.Lang {
	case "go", "sh", "bash", "shell", "json":
		return b.Mode != ModeSkip
	}
	return false
}

// IsShell reports whether the block is a shell script.
func (b Block) IsShell() bool {
	return b.Lang == "sh" || b.Lang == "bash" || b.Lang == "shell"
}

var (
	fenceRE       = regexp.MustCompile("^( *)(```+|~~~+)[ \t]*([^ \t`]*)")
	directiveRE   = regexp.MustCompile(`^\s*<!--\s*doccheck:\s*(.*?)\s*-->\s*$`)
	htmlCommentRE = regexp.MustCompile(`^\s*<!--.*-->\s*$`)
)

// Extract returns the fenced code blocks of a Markdown file in order, with
// their directives. An unknown or misplaced directive, or a fence that is
// never closed, is an error naming the line.
func Extract(file string, src []byte) ([]Block, error) {
	var (
		blocks  []Block
		lines   []string
		sc      = bufio.NewScanner(bytes.NewReader(src))
		pending *directive // the last directive seen, until a fence or text
	)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if m := directiveRE.FindStringSubmatch(line); m != nil {
			d, err := parseDirective(m[1])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", file, i+1, err)
			}
			d.line = i + 1
			pending = &d
			continue
		}
		if htmlCommentRE.MatchString(line) {
			continue // another tool's marker between a directive and its block
		}
		m := fenceRE.FindStringSubmatch(line)
		if m == nil {
			if strings.TrimSpace(line) != "" && pending != nil {
				return nil, fmt.Errorf("%s:%d: doccheck directive not followed by a code block", file, pending.line)
			}
			continue
		}
		indent, fence, lang := len(m[1]), m[2], strings.ToLower(m[3])
		b := Block{File: file, Line: i + 2, Lang: lang}
		if pending != nil {
			b.Mode, b.Path = pending.mode, pending.path
			pending = nil
		}
		var body []string
		closed := false
		for i++; i < len(lines); i++ {
			l := lines[i]
			if t := strings.TrimLeft(l, " "); strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]+" \t") == "" {
				closed = true
				break
			}
			// Remove up to the fence's indentation, as CommonMark does.
			n := 0
			for n < indent && n < len(l) && l[n] == ' ' {
				n++
			}
			body = append(body, l[n:])
		}
		if !closed {
			return nil, fmt.Errorf("%s:%d: code block never closed", file, b.Line-1)
		}
		b.Text = strings.Join(body, "\n") + "\n"
		blocks = append(blocks, b)
	}
	if pending != nil {
		return nil, fmt.Errorf("%s:%d: doccheck directive not followed by a code block", file, pending.line)
	}
	return blocks, nil
}

type directive struct {
	mode Mode
	path string
	line int
}

func parseDirective(s string) (directive, error) {
	word, rest, _ := strings.Cut(s, " ")
	rest = strings.TrimSpace(rest)
	switch m := Mode(word); m {
	case ModeRun, ModeAzure, ModeNetwork:
		if rest != "" {
			return directive{}, fmt.Errorf("doccheck: %q takes no argument", word)
		}
		return directive{mode: m}, nil
	case ModeSkip:
		return directive{mode: m}, nil // the rest is the reason
	case ModeFile:
		if rest == "" || strings.HasPrefix(rest, "/") || slices.Contains(strings.Split(rest, "/"), "..") {
			return directive{}, fmt.Errorf("doccheck: file wants a relative path inside the module, got %q", rest)
		}
		return directive{mode: m, path: rest}, nil
	}
	return directive{}, fmt.Errorf("doccheck: unknown directive %q (want run, azure, network, file PATH or skip)", s)
}

// Placeholders are the names a Go fragment may use without declaring them,
// with the values they have when the fragment runs against the emulator's
// default scenario. Documented in docs/testing.md.
var Placeholders = []struct{ Name, Value, Meaning string }{
	{"homeTenantID", "11111111-1111-1111-1111-111111111111", "the app registration's home tenant"},
	{"appClientID", "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", "the multi-tenant app registration's client ID"},
	{"customerTenantID", "22222222-2222-2222-2222-222222222222", "a customer tenant that consented"},
	{"identityClientID", "cccccccc-0000-0000-0000-000000000002", "a user-assigned managed identity's client ID"},
}

// knownImports maps the package names a fragment may use without importing
// them to their import paths.
var knownImports = map[string]string{
	"assertion":   "github.com/tenantbridge/tenantbridge/assertion",
	"federated":   "github.com/tenantbridge/tenantbridge/federated",
	"graphlite":   "github.com/tenantbridge/tenantbridge/graphlite",
	"graphtest":   "github.com/tenantbridge/tenantbridge/graphlite/graphtest",
	"fakeidp":     "github.com/tenantbridge/tenantbridge/fakeidp",
	"emulator":    "github.com/tenantbridge/tenantbridge/emulator",
	"fanout":      "github.com/tenantbridge/tenantbridge/fanout",
	"conformance": "github.com/tenantbridge/tenantbridge/conformance",
	"azcore":      "github.com/Azure/azure-sdk-for-go/sdk/azcore",
	"arm":         "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm",
	"policy":      "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy",
	"cloud":       "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud",
	"azlog":       "github.com/Azure/azure-sdk-for-go/sdk/azcore/log",
	"context":     "context",
	"errors":      "errors",
	"fmt":         "fmt",
	"http":        "net/http",
	"io":          "io",
	"log":         "log",
	"os":          "os",
	"exec":        "os/exec",
	"slog":        "log/slog",
	"strings":     "strings",
	"testing":     "testing",
	"time":        "time",
}

var (
	packageRE  = regexp.MustCompile(`(?m)^package\s+(\w+)`)
	selectorRE = regexp.MustCompile(`(?:^|[^\w.])([a-z]\w*)\.[A-Za-z_]`)
	importRE   = regexp.MustCompile(`^import\s*(\(|"|\w+\s+")`)
	topDeclRE  = regexp.MustCompile(`^(func|type|var|const)\s`)
)

// GoFile is a Go source file generated from a block.
type GoFile struct {
	Name    string // file name in the block's package directory
	Package string
	Source  string
}

// Go turns a Go block into a file:
//
//   - a block with a package clause is a whole file, used as is
//     (main.go for package main, snippet.go or snippet_test.go otherwise);
//   - a block whose first declaration is func, type, var or const is a list
//     of top-level declarations, put in snippet_test.go of package pkg;
//   - any other block is a list of statements: the body of a function
//     returning an error (so `return err` works; a nil return is added at
//     the end), called by TestSnippet in snippet_test.go; ctx (a
//     context.Context), t (*testing.T) and the Placeholders are declared.
//
// Leading import declarations of a fragment are kept; the packages of
// knownImports a fragment uses are imported for it. A //line directive makes
// the compiler's messages point at the Markdown file.
func (b Block) Go(pkg string) (GoFile, error) {
	if m := packageRE.FindStringSubmatch(b.Text); m != nil && isPackageClauseFirst(b.Text) {
		name := "snippet.go"
		switch {
		case m[1] == "main":
			name = "main.go"
		case strings.HasSuffix(m[1], "_test") || strings.Contains(b.Text, "*testing.T"):
			name = "snippet_test.go"
		}
		return GoFile{Name: name, Package: m[1], Source: fmt.Sprintf("//line %s:%d\n%s", b.File, b.Line, b.Text)}, nil
	}

	// Split off the leading import declarations.
	lines := strings.Split(strings.TrimRight(b.Text, "\n"), "\n")
	var imports []string
	i := 0
	for i < len(lines) {
		l := strings.TrimSpace(lines[i])
		switch {
		case l == "" || strings.HasPrefix(l, "//"):
			i++
			continue
		case importRE.MatchString(l):
			if strings.HasSuffix(l, "(") {
				j := i + 1
				for j < len(lines) && strings.TrimSpace(lines[j]) != ")" {
					j++
				}
				if j == len(lines) {
					return GoFile{}, fmt.Errorf("%s: import ( never closed", b.Pos())
				}
				imports = append(imports, lines[i+1:j]...)
				i = j + 1
			} else {
				imports = append(imports, strings.TrimSpace(strings.TrimPrefix(l, "import")))
				i++
			}
			continue
		}
		break
	}
	bodyLine := b.Line + i
	body := strings.Join(lines[i:], "\n") + "\n"

	paths := map[string]bool{}
	var importLines []string
	for _, l := range imports {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "//") {
			continue
		}
		importLines = append(importLines, l)
		if q := strings.Index(l, `"`); q >= 0 {
			if p, err := strconv.Unquote(l[q:]); err == nil {
				paths[p] = true
			}
		}
	}
	explicit := map[string]bool{}
	for _, l := range importLines {
		// The name a path is used under: an alias, or the last element.
		if q := strings.Index(l, `"`); q > 0 {
			explicit[strings.TrimSpace(l[:q])] = true
		} else if p, err := strconv.Unquote(l); err == nil {
			explicit[p[strings.LastIndex(p, "/")+1:]] = true
		}
	}
	topLevel := topDeclRE.MatchString(strings.TrimSpace(firstCodeLine(body)))
	used := map[string]bool{"testing": !topLevel, "context": !topLevel}
	for _, m := range selectorRE.FindAllStringSubmatch(stripStringsAndComments(body), -1) {
		used[m[1]] = true
	}
	var auto []string
	for name, p := range knownImports {
		if !used[name] || paths[p] || explicit[name] {
			continue
		}
		if name == "azlog" {
			auto = append(auto, fmt.Sprintf("azlog %q", p))
		} else {
			auto = append(auto, strconv.Quote(p))
		}
		paths[p] = true
	}
	sort.Strings(auto)
	importLines = append(importLines, auto...)

	var sb strings.Builder
	fmt.Fprintf(&sb, "package %s\n\n", pkg)
	if len(importLines) > 0 {
		sb.WriteString("import (\n")
		for _, l := range importLines {
			sb.WriteString("\t" + l + "\n")
		}
		sb.WriteString(")\n\n")
	}
	if topLevel {
		fmt.Fprintf(&sb, "//line %s:%d\n%s", b.File, bodyLine, body)
		return GoFile{Name: "snippet_test.go", Package: pkg, Source: sb.String()}, nil
	}
	sb.WriteString("var ctx = context.Background()\n\nvar (\n")
	for _, p := range Placeholders {
		fmt.Fprintf(&sb, "\t%s = %q // %s\n", p.Name, p.Value, p.Meaning)
	}
	sb.WriteString(")\n\nfunc TestSnippet(t *testing.T) {\n\tif err := snippet(t); err != nil {\n\t\tt.Fatal(err)\n\t}\n}\n\n")
	sb.WriteString("func snippet(t *testing.T) error {\n")
	fmt.Fprintf(&sb, "//line %s:%d\n%s\treturn nil\n}\n", b.File, bodyLine, body)
	return GoFile{Name: "snippet_test.go", Package: pkg, Source: sb.String()}, nil
}

func isPackageClauseFirst(src string) bool {
	return strings.HasPrefix(strings.TrimSpace(firstCodeLine(src)), "package ")
}

// firstCodeLine returns the first line that is neither blank nor a //
// comment.
func firstCodeLine(src string) string {
	for l := range strings.Lines(src) {
		t := strings.TrimSpace(l)
		if t != "" && !strings.HasPrefix(t, "//") {
			return t
		}
	}
	return ""
}

// stripStringsAndComments blanks out // comments and string literals, so that
// "a.b" in a comment or a URL in a string does not count as a package use.
func stripStringsAndComments(src string) string {
	var sb strings.Builder
	inStr, inRaw := false, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case inRaw:
			if c == '`' {
				inRaw = false
			}
			if c == '\n' {
				sb.WriteByte('\n')
			}
			continue
		case inStr:
			if c == '\\' {
				i++
			} else if c == '"' || c == '\n' {
				inStr = false
			}
			continue
		case c == '`':
			inRaw = true
			sb.WriteByte(' ')
			continue
		case c == '"':
			inStr = true
			sb.WriteByte(' ')
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			sb.WriteByte('\n')
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
