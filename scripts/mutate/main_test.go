package main

import (
	"os"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const list = `# a comment

name: one
file: a/b.go
from: x := 1  // verbatim, inner  spaces kept
to:   x := 2
test: ./a/... ./b/...

name: two
file: c.go
from: return nil
to:
test: ./c
`
	got, err := parse(strings.NewReader(list), "list")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("parsed %d mutations, want 2", len(got))
	}
	if m := got[0]; m.name != "one" || m.file != "a/b.go" || m.from != "x := 1  // verbatim, inner  spaces kept" || m.to != "x := 2" || strings.Join(m.test, ",") != "./a/...,./b/..." || m.line != 3 {
		t.Errorf("first mutation = %+v", m)
	}
	if m := got[1]; m.to != "" || m.from != "return nil" {
		t.Errorf("second mutation = %+v, want an empty replacement", m)
	}
}

func TestParseRejects(t *testing.T) {
	for name, list := range map[string]string{
		"missing test": "name: a\nfile: b\nfrom: c\nto: d\n",
		"same text":    "name: a\nfile: b\nfrom: c\nto: c\ntest: ./x\n",
		"unknown key":  "name: a\nfiel: b\n",
		"no colon":     "name a\n",
	} {
		if _, err := parse(strings.NewReader(list), "list"); err == nil {
			t.Errorf("%s: parse accepted %q", name, list)
		}
	}
}

// The committed list parses, and every entry names an existing file in
// which its text occurs exactly once: a stale entry fails here, in make
// test, rather than only when someone runs make mutate.
func TestCommittedListIsCurrent(t *testing.T) {
	muts, err := parseFile("mutations.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(muts) < 20 {
		t.Errorf("%d mutations in the list, want at least 20", len(muts))
	}
	seen := map[string]bool{}
	for _, m := range muts {
		if seen[m.name] {
			t.Errorf("mutation %q is listed twice", m.name)
		}
		seen[m.name] = true
		src, err := os.ReadFile("../../" + m.file)
		if err != nil {
			t.Errorf("%s: %v", m.name, err)
			continue
		}
		if n := strings.Count(string(src), m.from); n != 1 {
			t.Errorf("%s: its from text occurs %d times in %s, want once: the code moved; re-express the same bug against today's code in scripts/mutate/mutations.txt (and check it is caught: go run ./scripts/mutate -run NAME)", m.name, n, m.file)
		}
	}
}
