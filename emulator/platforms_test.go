package emulator

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

func TestGitHubModeHidesTheRequestToken(t *testing.T) {
	e := start(t, &Options{Mode: ModeGitHub})
	tok := e.Env().Get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if tok == "" || tok != e.GitHubRequestToken() {
		t.Fatal("ACTIONS_ID_TOKEN_REQUEST_TOKEN is not the fake's request token")
	}
	if !strings.HasPrefix(e.Env().Get("ACTIONS_ID_TOKEN_REQUEST_URL"), e.MSIURL()+"/github/"+fakeidp.DefaultGitHubIssuer+"/idtoken?") {
		t.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL = %q", e.Env().Get("ACTIONS_ID_TOKEN_REQUEST_URL"))
	}
	for _, s := range []string{e.Env().String(), fmt.Sprintf("%#v", e.Env()), fmt.Sprint(e)} {
		if strings.Contains(s, tok) {
			t.Error("a printed Env or Emulator shows the request token")
		}
	}
}

func TestGitHubModeNeedsAGitHubIssuer(t *testing.T) {
	sc := fakeidp.DefaultScenario()
	sc.Issuers = sc.Issuers[:1] // the workload issuer only
	var fics []fakeidp.FederatedCredential
	for _, f := range sc.Apps[0].FederatedCredentials {
		if !strings.Contains(f.Issuer, fakeidp.DefaultGitHubIssuer) {
			fics = append(fics, f)
		}
	}
	sc.Apps[0].FederatedCredentials = fics
	_, err := Start(&Options{Mode: ModeGitHub, Scenario: sc})
	if err == nil || !strings.Contains(err.Error(), `kind "github"`) {
		t.Fatalf("Start = %v, want an error asking for a GitHub issuer", err)
	}
}

func TestArcKeyDirectory(t *testing.T) {
	t.Run("own", func(t *testing.T) {
		dir := t.TempDir()
		e, err := Start(&Options{Mode: ModeArc, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		got := e.Env().Get("FAKEMSI_ARC_KEY_DIR")
		if got != filepath.Join(dir, "azcmagent-tokens") || got != e.ArcKeyDirectory() {
			t.Errorf("FAKEMSI_ARC_KEY_DIR = %q", got)
		}
		if fi, err := os.Stat(got); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("key directory: %v %v", fi, err)
		}
		e.Close()
		if _, err := os.Stat(got); !os.IsNotExist(err) {
			t.Error("Close left the key directory in the caller's Dir")
		}
	})
	t.Run("given", func(t *testing.T) {
		dir := t.TempDir()
		e := start(t, &Options{Mode: ModeArc, ArcKeyDirectory: dir})
		if e.Env().Get("FAKEMSI_ARC_KEY_DIR") != dir {
			t.Errorf("FAKEMSI_ARC_KEY_DIR = %q, want %q", e.Env().Get("FAKEMSI_ARC_KEY_DIR"), dir)
		}
		e.Close()
		if _, err := os.Stat(dir); err != nil {
			t.Error("Close removed the caller's key directory")
		}
	})
}
