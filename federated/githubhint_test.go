package federated

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestHint700213GitHubSubject: for a GitHub Actions assertion the hint names
// the subject Entra expected a credential to have (the job's) and the
// subject forms, instead of the managed-identity advice.
func TestHint700213GitHubSubject(t *testing.T) {
	const sub = "repo:contoso/inventory:ref:refs/heads/feature"
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://token.actions.githubusercontent.com", "sub": sub, "aud": "api://AzureADTokenExchange",
	}).SignedString([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	e := &AuthError{ClientID: "app-1", ErrorCodes: []int{700213}}
	e.readAssertion(tok)
	hint := e.hint(time.Now())
	for _, want := range []string{`subject exactly "` + sub + `"`, "ref:refs/tags/TAG", "environment:NAME", ":pull_request", "token.actions.githubusercontent.com"} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint %q lacks %q", hint, want)
		}
	}
	if strings.Contains(hint, "object (principal) ID") {
		t.Error("a GitHub subject got the managed-identity advice")
	}
}
