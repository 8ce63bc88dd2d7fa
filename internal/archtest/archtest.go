// Package archtest keeps the architecture of docs/architecture.md from
// drifting: one implementation of each protocol piece (in internal/), one
// vocabulary for options and error fields, and no reaching into another
// module's internals. Its test reads every Go file of the repository (both
// modules) and reports each violation with its file and line; Check is the
// rule set, run by the test on the real tree and on small bad sources that
// prove each rule can fail.
package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strconv"
	"strings"
)

// A File is one Go source file: its slash-separated path relative to the
// repository root, and its text.
type File struct {
	Path string
	Src  []byte
}

// A Violation is one broken rule at one place.
type Violation struct {
	Pos  string // path:line
	Rule string
	What string
}

func (v Violation) String() string { return v.Pos + ": " + v.Rule + ": " + v.What }

// linknameDirective is spelled in two halves so that this file, which looks
// for the directive, does not itself contain it.
const linknameDirective = "//go:" + "linkname"

// Rule names, as reported.
const (
	RuleNoLinkname    = "no go:" + "linkname"
	RuleNoUnsafe      = "no unsafe"
	RuleOneRetryAfter = "Retry-After is parsed by internal/retryafter"
	RuleOneBodyLimit  = "bounded reads go through internal/bodylimit"
	RuleOneJWTPeek    = "unverified JWT reads go through internal/jwtpeek"
	RuleVocabulary    = "one vocabulary"
	RuleBoundedWait   = "every wait in a test is bounded (internal/testwait)"
)

// forbiddenFields maps an exported field name that drifted once to the name
// the vocabulary uses instead (docs/architecture.md, "One vocabulary").
var forbiddenFields = map[string]string{
	"HTTPClient":  "Transport (a policy.Transporter, or azcore.ClientOptions.Transport)",
	"HttpClient":  "Transport (a policy.Transporter, or azcore.ClientOptions.Transport)",
	"Now":         "Clock",
	"ErrorCode":   "Code",
	"Description": "Message",
}

// Check applies every rule to files and returns the violations, sorted.
func Check(files []File) []Violation {
	var out []Violation
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f.Path, f.Src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			out = append(out, Violation{Pos: f.Path, Rule: "parse", What: err.Error()})
			continue
		}
		c := checker{fset: fset, path: f.Path, file: af}
		c.run()
		out = append(out, c.found...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pos < out[j].Pos })
	return out
}

type checker struct {
	fset  *token.FileSet
	path  string
	file  *ast.File
	found []Violation
}

func (c *checker) report(n ast.Node, rule, format string, args ...any) {
	p := c.fset.Position(n.Pos())
	c.found = append(c.found, Violation{Pos: fmt.Sprintf("%s:%d", c.path, p.Line), Rule: rule, What: fmt.Sprintf(format, args...)})
}

// within reports whether the file lies in the package directory dir (or
// below it).
func (c *checker) within(dir string) bool {
	return strings.HasPrefix(c.path, dir+"/")
}

func (c *checker) isTest() bool { return strings.HasSuffix(c.path, "_test.go") }

// mainModule: the rules about protocol pieces and vocabulary bind the main
// module; the interop module holds programs written as a user of other SDKs
// would write them, on purpose.
func (c *checker) mainModule() bool { return !strings.HasPrefix(c.path, "interop/") }

func (c *checker) run() {
	for _, cg := range c.file.Comments {
		for _, cm := range cg.List {
			if strings.HasPrefix(cm.Text, linknameDirective) {
				c.report(cm, RuleNoLinkname, "%s reaches into another package's internals; use its public API", cm.Text)
			}
		}
	}
	for _, imp := range c.file.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "unsafe" {
			c.report(imp, RuleNoUnsafe, `import "unsafe"`)
		}
	}
	if c.mainModule() && c.isTest() && !c.within("internal/testwait") {
		c.waits()
	}
	if !c.mainModule() || c.isTest() {
		return
	}
	ast.Inspect(c.file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			c.call(n)
		case *ast.TypeSpec:
			if st, ok := n.Type.(*ast.StructType); ok && n.Name.IsExported() && !c.within("internal") {
				c.fields(n.Name.Name, st)
			}
		}
		return true
	})
}

// call flags the calls that mean a private copy of a shared protocol piece.
func (c *checker) call(n *ast.CallExpr) {
	sel, ok := n.Fun.(*ast.SelectorExpr)
	if !ok {
		return
	}
	recv := exprString(sel.X)
	switch {
	case sel.Sel.Name == "Get" && len(n.Args) == 1 && isRetryAfterHeader(n.Args[0]) && !c.within("internal/retryafter"):
		c.report(n, RuleOneRetryAfter, "%s.Get(%s): call retryafter.Parse", recv, exprString(n.Args[0]))
	case recv == "io" && sel.Sel.Name == "LimitReader" && !c.within("internal/bodylimit"):
		c.report(n, RuleOneBodyLimit, "io.LimitReader: call bodylimit.Read or bodylimit.NewReader, which fail past the limit instead of truncating")
	case sel.Sel.Name == "DecodeSegment" && !c.within("internal/jwtpeek"):
		c.report(n, RuleOneJWTPeek, "%s.DecodeSegment: call jwtpeek.Claims or jwtpeek.ParseHeader", recv)
	case sel.Sel.Name == "ParseUnverified" && !c.within("internal/jwtpeek"):
		c.report(n, RuleOneJWTPeek, "%s.ParseUnverified: call jwtpeek.Claims or jwtpeek.ParseHeader", recv)
	}
}

func isRetryAfterHeader(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return false
	}
	v, err := strconv.Unquote(lit.Value)
	return err == nil && strings.Contains(strings.ToLower(v), "retry-after")
}

// fields checks the exported fields of an exported struct against the
// vocabulary.
func (c *checker) fields(typeName string, st *ast.StructType) {
	for _, fld := range st.Fields.List {
		typ := exprString(fld.Type)
		for _, name := range fld.Names {
			if !name.IsExported() {
				continue
			}
			if want, bad := forbiddenFields[name.Name]; bad {
				c.report(name, RuleVocabulary, "%s.%s: name it %s", typeName, name.Name, want)
				continue
			}
			if typ == "func() time.Time" && name.Name != "Clock" {
				c.report(name, RuleVocabulary, "%s.%s is a clock: name it Clock", typeName, name.Name)
			}
			if typ == "*http.Client" {
				c.report(name, RuleVocabulary, "%s.%s is an *http.Client: take a Transport policy.Transporter (an *http.Client is one)", typeName, name.Name)
			}
		}
	}
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.StarExpr:
		return "*" + exprString(e.X)
	case *ast.FuncType:
		var params, results []string
		if e.Params != nil {
			for _, p := range e.Params.List {
				params = append(params, exprString(p.Type))
			}
		}
		if e.Results != nil {
			for _, r := range e.Results.List {
				results = append(results, exprString(r.Type))
			}
		}
		s := "func(" + strings.Join(params, ", ") + ")"
		switch len(results) {
		case 0:
		case 1:
			s += " " + results[0]
		default:
			s += " (" + strings.Join(results, ", ") + ")"
		}
		return s
	case *ast.CallExpr:
		return exprString(e.Fun) + "(...)"
	case *ast.BasicLit:
		return e.Value
	}
	return fmt.Sprintf("%T", e)
}

// waits flags, in a test file, the waits that can block forever: a channel
// receive outside a select (a select has room for a timeout case, and
// testwait.Receive and testwait.Hold are such selects) and a bare X.Wait()
// statement (sync.WaitGroup, sync.Cond; testwait.Wait bounds it). A
// regression that stops a background goroutine then fails in seconds with a
// message saying what did not happen, instead of at the 10-minute test
// timeout with a goroutine dump.
func (c *checker) waits() {
	inSelect := map[ast.Expr]bool{}
	ast.Inspect(c.file, func(n ast.Node) bool {
		cc, ok := n.(*ast.CommClause)
		if !ok {
			return true
		}
		switch s := cc.Comm.(type) {
		case *ast.ExprStmt:
			inSelect[s.X] = true
		case *ast.AssignStmt:
			if len(s.Rhs) == 1 {
				inSelect[s.Rhs[0]] = true
			}
		}
		return true
	})
	ast.Inspect(c.file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.UnaryExpr:
			if n.Op == token.ARROW && !inSelect[n] {
				c.report(n, RuleBoundedWait, "<-%s can block forever: use testwait.Receive (test goroutine) or testwait.Hold (a fake's goroutine), or a select with a timeout", exprString(n.X))
			}
		case *ast.ExprStmt:
			if call, ok := n.X.(*ast.CallExpr); ok && len(call.Args) == 0 {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Wait" {
					c.report(n, RuleBoundedWait, "%s.Wait() can block forever: use testwait.Wait", exprString(sel.X))
				}
			}
		}
		return true
	})
}
