package leak_test

import (
	"strings"
	"testing"

	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// dashed is a JWT-shaped string whose header, payload and signature each
// hold '-' and '_': a character class without them stops at the first one
// and leaves the rest of the token in the text.
const dashed = "eyJhbGciOiJSUzI1NiIs-_x0" +
	".eyJzdWIiOiJ4-In0_eyJh" +
	".c2ln-bmF0_dXJlLW9mLW-EtdGVzdC_10b2tlbg-Zm9vYmFy_YmF6cXV4"

func TestFind(t *testing.T) {
	sig := dashed[strings.LastIndexByte(dashed, '.')+1:]
	cases := []struct {
		name string
		text string
		want bool
	}{
		{"clean", "token request failed: invalid_client", false},
		{"whole token", "got " + dashed, true},
		{"signature tail after a dash", "…" + sig[strings.IndexByte(sig, '-')+1:], true},
		{"signature fragment", "x" + sig[20:20+12] + "y", true},
		{"header start", "eyJ and nothing else", true},
		{"short fragment is not a finding", "c2ln-", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := leak.Find(tc.text, dashed)
			if (got != "") != tc.want {
				t.Fatalf("Find = %q, want a finding: %v", got, tc.want)
			}
			if strings.Contains(got, sig[:window()]) {
				t.Fatal("Find's answer quotes the secret")
			}
		})
	}
}

func window() int { return 12 }

// TestRedactLeavesNoPartOfADashedJWT pins the JWT pattern's character class:
// every part of the token holds '-' and '_', and neither Redact nor Clip may
// leave "eyJ" or any fragment of the signature behind.
func TestRedactLeavesNoPartOfADashedJWT(t *testing.T) {
	for i, part := range strings.Split(dashed, ".") {
		if !strings.ContainsAny(part, "-") || !strings.ContainsAny(part, "_") {
			t.Fatalf("test token part %d lacks '-' or '_'", i)
		}
	}
	checkScrubbed(t, dashed)
}

// TestRedactLeavesNoPartOfAnEmulatorToken does the same for a real RS256
// token signed by the emulator, whose signature is 342 base64url characters.
func TestRedactLeavesNoPartOfAnEmulatorToken(t *testing.T) {
	srv, err := fakeidp.New(fakeidp.DefaultScenario(), &fakeidp.Options{NoListener: true, SigningKeyBits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	id := fakeidp.DefaultScenario().ManagedIdentities[0]
	// A signature without '-' or '_' would not exercise the class; the odds
	// are tiny, and a few more tokens settle it.
	for n := 0; n < 20; n++ {
		tok, _, err := srv.IssueManagedIdentityToken(id, "api://AzureADTokenExchange")
		if err != nil {
			t.Fatalf("issuing a token: %v", err)
		}
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.ContainsAny(sig, "-") && strings.ContainsAny(sig, "_") {
			checkScrubbed(t, tok)
			return
		}
	}
	t.Fatal("20 emulator tokens had no signature with both '-' and '_'")
}

func checkScrubbed(t *testing.T, tok string) {
	t.Helper()
	in := "error: the server echoed " + tok + " back, and again:" + tok
	for name, out := range map[string]string{
		"Redact":                 leak.Redact(in),
		"Clip":                   leak.Clip(in, 4096),
		"Redact with the secret": leak.Redact(in, tok),
	} {
		if where := leak.Find(out, tok); where != "" {
			t.Errorf("%s left %s", name, where)
		}
	}
}
