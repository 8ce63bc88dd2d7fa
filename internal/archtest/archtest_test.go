package archtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRepository checks every Go file of both modules.
func TestRepository(t *testing.T) {
	root := repoRoot(t)
	var files []File
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, File{Path: filepath.ToSlash(rel), Src: src})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("found %d Go files under %s; expected the whole repository", len(files), root)
	}
	for _, v := range Check(files) {
		t.Error(v)
	}
}

// repoRoot is the directory of the main module's go.mod, two levels up.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !strings.Contains(string(mod), "module github.com/tenantbridge/tenantbridge\n") {
		t.Fatalf("%s is not the repository root (go.mod: %v)", root, err)
	}
	return root
}

// TestEachRuleCanFail runs Check on small sources that break one rule each,
// and on their fixed versions, so that a rule weakened by mistake shows here.
func TestEachRuleCanFail(t *testing.T) {
	cases := []struct {
		name string
		path string
		src  string
		want string // rule reported; "" means none
	}{
		{"linkname", "federated/log.go", "package federated\n\n" + linknameDirective + " logWrite github.com/x/internal/log.Write\nfunc logWrite(string)\n", RuleNoLinkname},
		{"unsafe", "federated/x.go", "package federated\n\nimport \"unsafe\"\n\nvar _ = unsafe.Sizeof(0)\n", RuleNoUnsafe},
		{"unsafe in interop too", "interop/x.go", "package interop\n\nimport \"unsafe\"\n\nvar _ = unsafe.Sizeof(0)\n", RuleNoUnsafe},
		{"private Retry-After parser", "graphlite/throttle.go", "package graphlite\n\nimport \"net/http\"\n\nfunc f(h http.Header) string { return h.Get(\"Retry-After\") }\n", RuleOneRetryAfter},
		{"private Retry-After-Ms parser", "assertion/x.go", "package assertion\n\nimport \"net/http\"\n\nfunc f(r *http.Response) string { return r.Header.Get(\"X-Ms-Retry-After-Ms\") }\n", RuleOneRetryAfter},
		{"Retry-After in its package", "internal/retryafter/r.go", "package retryafter\n\nimport \"net/http\"\n\nfunc f(h http.Header) string { return h.Get(\"Retry-After\") }\n", ""},
		{"Retry-After in a test", "graphlite/x_test.go", "package graphlite\n\nimport \"net/http\"\n\nfunc f(h http.Header) string { return h.Get(\"Retry-After\") }\n", ""},
		{"private bounded reader", "assertion/y.go", "package assertion\n\nimport \"io\"\n\nfunc f(r io.Reader) io.Reader { return io.LimitReader(r, 1<<20) }\n", RuleOneBodyLimit},
		{"private JWT decoder", "conformance/jwt.go", "package conformance\n\nimport \"github.com/golang-jwt/jwt/v5\"\n\nfunc f(s string) ([]byte, error) { return jwt.NewParser().DecodeSegment(s) }\n", RuleOneJWTPeek},
		{"unverified parse", "graphlite/e.go", "package graphlite\n\nimport \"github.com/golang-jwt/jwt/v5\"\n\nfunc f(s string) { jwt.NewParser().ParseUnverified(s, jwt.MapClaims{}) }\n", RuleOneJWTPeek},
		{"HTTPClient option", "assertion/o.go", "package assertion\n\nimport \"net/http\"\n\ntype Options struct{ HTTPClient *http.Client }\n", RuleVocabulary},
		{"Now clock", "graphlite/o.go", "package graphlite\n\nimport \"time\"\n\ntype ThrottleOptions struct{ Now func() time.Time }\n", RuleVocabulary},
		{"clock named otherwise", "fakeidp/o.go", "package fakeidp\n\nimport \"time\"\n\ntype Options struct{ TimeSource func() time.Time }\n", RuleVocabulary},
		{"ErrorCode field", "assertion/e.go", "package assertion\n\ntype ResponseError struct{ ErrorCode string }\n", RuleVocabulary},
		{"Description field", "federated/e.go", "package federated\n\ntype AuthError struct{ Code, Description string }\n", RuleVocabulary},
		{"*http.Client by another name", "graphtest/o.go", "package graphtest\n\nimport \"net/http\"\n\ntype Options struct{ Client *http.Client }\n", RuleVocabulary},
		{"the vocabulary itself", "graphtest/o.go", "package graphtest\n\nimport (\n\t\"time\"\n\n\t\"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy\"\n)\n\ntype Options struct {\n\tTransport policy.Transporter\n\tClock     func() time.Time\n}\n\ntype Error struct{ Code, Message, Hint string }\n", ""},
		{"unexported fields are private business", "fakeidp/o.go", "package fakeidp\n\nimport \"time\"\n\ntype Options struct{ now func() time.Time }\n", ""},
		{"bare receive in a test", "assertion/x_test.go", "package assertion\n\nfunc f(ch chan int) { <-ch }\n", RuleBoundedWait},
		{"receive into a variable in a test", "federated/x_test.go", "package federated\n\nfunc f(ch chan int) int { v := <-ch; return v }\n", RuleBoundedWait},
		{"WaitGroup.Wait in a test", "fanout/x_test.go", "package fanout\n\nimport \"sync\"\n\nfunc f(wg *sync.WaitGroup) { wg.Wait() }\n", RuleBoundedWait},
		{"receive in a select", "fanout/x_test.go", "package fanout\n\nimport \"time\"\n\nfunc f(ch chan int) {\n\tselect {\n\tcase v := <-ch:\n\t\t_ = v\n\tcase <-time.After(time.Second):\n\t}\n}\n", ""},
		{"receive outside tests", "fanout/x.go", "package fanout\n\nfunc f(ch chan int) { <-ch }\n", ""},
		{"interop programs are written as users write them", "interop/cmd/app/main.go", "package main\n\nimport \"io\"\n\ntype Error struct{ ErrorCode string }\n\nfunc f(r io.Reader) io.Reader { return io.LimitReader(r, 1) }\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Check([]File{{Path: tc.path, Src: []byte(tc.src)}})
			if tc.want == "" {
				for _, v := range got {
					t.Errorf("unexpected violation: %s", v)
				}
				return
			}
			found := false
			for _, v := range got {
				if v.Rule == tc.want {
					found = true
					if !strings.HasPrefix(v.Pos, tc.path+":") {
						t.Errorf("violation at %q, want a position in %s", v.Pos, tc.path)
					}
				}
			}
			if !found {
				t.Errorf("rule %q not reported; got %v", tc.want, got)
			}
		})
	}
}

func TestParseErrorIsReported(t *testing.T) {
	got := Check([]File{{Path: "x/broken.go", Src: []byte("package x\nfunc {")}})
	if len(got) != 1 || got[0].Rule != "parse" {
		t.Fatalf("got %v, want one parse violation", got)
	}
}
