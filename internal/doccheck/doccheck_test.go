package doccheck

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExtract(t *testing.T) {
	src := "# Title\n" +
		"\n" +
		"```sh\n" +
		"echo one\n" +
		"```\n" +
		"\n" +
		"<!-- doccheck: run -->\n" +
		"\n" +
		"```bash\n" +
		"echo two\n" +
		"```\n" +
		"\n" +
		"1. A step:\n" +
		"\n" +
		"   <!-- doccheck: file cmd/main.go -->\n" +
		"   ```go\n" +
		"   package main\n" +
		"\n" +
		"   func main() {}\n" +
		"   ```\n" +
		"\n" +
		"````markdown\n" +
		"```go\n" +
		"not a block of its own\n" +
		"```\n" +
		"````\n" +
		"<!-- doccheck: azure -->\n" +
		"<!-- another tool's marker -->\n" +
		"~~~\n" +
		"az login\n" +
		"~~~\n"
	got, err := Extract("doc.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{File: "doc.md", Line: 4, Lang: "sh", Text: "echo one\n"},
		{File: "doc.md", Line: 10, Lang: "bash", Mode: ModeRun, Text: "echo two\n"},
		{File: "doc.md", Line: 17, Lang: "go", Mode: ModeFile, Path: "cmd/main.go", Text: "package main\n\nfunc main() {}\n"},
		{File: "doc.md", Line: 23, Lang: "markdown", Text: "```go\nnot a block of its own\n```\n"},
		{File: "doc.md", Line: 30, Lang: "", Mode: ModeAzure, Text: "az login\n"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Extract (-want +got):\n%s", diff)
	}
	checked := 0
	for _, b := range got {
		if b.Checked() {
			checked++
		}
	}
	if checked != 3 {
		t.Errorf("%d blocks checked, want 3 (sh, bash, go; not markdown or a block without a language)", checked)
	}
}

func TestExtractErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"unknown directive", "<!-- doccheck: runn -->\n```sh\nx\n```\n", `doc.md:1: doccheck: unknown directive "runn"`},
		{"directive without a block", "<!-- doccheck: run -->\ntext\n", "doc.md:1: doccheck directive not followed by a code block"},
		{"directive at the end", "text\n<!-- doccheck: azure -->\n", "doc.md:2: doccheck directive not followed by a code block"},
		{"file outside the module", "<!-- doccheck: file ../x.go -->\n```go\n```\n", "file wants a relative path"},
		{"file without a path", "<!-- doccheck: file -->\n```go\n```\n", "file wants a relative path"},
		{"run with an argument", "<!-- doccheck: run fast -->\n```sh\n```\n", `"run" takes no argument`},
		{"unclosed fence", "```sh\necho\n", "doc.md:1: code block never closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Extract("doc.md", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Extract: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestGoWholeFile(t *testing.T) {
	for _, tc := range []struct{ text, name, pkg string }{
		{"// Command x.\npackage main\n\nfunc main() {}\n", "main.go", "main"},
		{"package lib\n\nfunc F() {}\n", "snippet.go", "lib"},
		{"package lib_test\n\nimport \"testing\"\n\nfunc TestF(t *testing.T) {}\n", "snippet_test.go", "lib_test"},
	} {
		b := Block{File: "doc.md", Line: 7, Lang: "go", Text: tc.text}
		gf, err := b.Go("s1")
		if err != nil {
			t.Fatal(err)
		}
		if gf.Name != tc.name || gf.Package != tc.pkg || gf.Source != "//line doc.md:7\n"+tc.text {
			t.Errorf("Go(%q) = %+v, want %s in package %s, as written after a //line directive", tc.text, gf, tc.name, tc.pkg)
		}
	}
}

func TestGoStatements(t *testing.T) {
	b := Block{File: "README.md", Line: 10, Lang: "go", Text: `import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// comment naming os.Getenv, which is not a use
cred, err := federated.NewFromEnvironment(nil)
if err != nil {
	return err
}
_, err = cred.GetToken(ctx, policy.TokenRequestOptions{TenantID: customerTenantID})
fmt.Println("see https://example.com/x.y")
return err
`}
	gf, err := b.Go("s7")
	if err != nil {
		t.Fatal(err)
	}
	if gf.Name != "snippet_test.go" || gf.Package != "s7" {
		t.Errorf("file %s package %s, want snippet_test.go in s7", gf.Name, gf.Package)
	}
	for _, want := range []string{
		"package s7\n",
		"\t\"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy\"\n", // kept
		"\t\"github.com/tenantbridge/tenantbridge/federated\"\n",      // added: used
		"\t\"fmt\"\n",
		"\t\"context\"\n",
		"\t\"testing\"\n",
		"var ctx = context.Background()",
		"customerTenantID = \"22222222-2222-2222-2222-222222222222\"",
		"func snippet(t *testing.T) error {\n//line README.md:15\ncred, err :=",
		"return err\n\treturn nil\n}\n",
	} {
		if !strings.Contains(gf.Source, want) {
			t.Errorf("source lacks %q:\n%s", want, gf.Source)
		}
	}
	for _, notWant := range []string{`"os"`, `"net/http"`} {
		if strings.Contains(gf.Source, notWant) {
			t.Errorf("source imports %s, named only in a comment or a string:\n%s", notWant, gf.Source)
		}
	}
	if strings.Count(gf.Source, "azcore/policy\"") != 1 {
		t.Errorf("policy imported more than once:\n%s", gf.Source)
	}
}

func TestGoDeclarations(t *testing.T) {
	b := Block{File: "docs/testing.md", Line: 3, Lang: "go", Text: "func TestMine(t *testing.T) {\n\tconformance.TestSource(t, nil, nil)\n}\n"}
	gf, err := b.Go("s2")
	if err != nil {
		t.Fatal(err)
	}
	want := "package s2\n\nimport (\n" +
		"\t\"github.com/tenantbridge/tenantbridge/conformance\"\n" +
		"\t\"testing\"\n" +
		")\n\n//line docs/testing.md:3\n" + b.Text
	if diff := cmp.Diff(want, gf.Source); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}
}
