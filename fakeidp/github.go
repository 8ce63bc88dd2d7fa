package fakeidp

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// IssuerKindGitHub is an ExternalIssuer.Kind: the issuer stands in for
// GitHub Actions (https://token.actions.githubusercontent.com). Its tokens
// carry GitHub's claims (repository, ref, …), its subject names the
// repository and what the job runs for, and the managed-identity listener
// serves its token request endpoint at /github/{name}/idtoken, the URL a job
// finds in ACTIONS_ID_TOKEN_REQUEST_URL.
const IssuerKindGitHub = "github"

// The GitHub issuer of DefaultScenario: the app trusts jobs of
// DefaultGitHubRepository on its main branch.
const (
	DefaultGitHubIssuer     = "github"
	DefaultGitHubRepository = "contoso/inventory"
	DefaultGitHubRef        = "refs/heads/main"
	DefaultGitHubSubject    = "repo:" + DefaultGitHubRepository + ":ref:" + DefaultGitHubRef
)

// gitHubTokenLifetime is how long GitHub's OIDC tokens live: five minutes
// after issue.
const gitHubTokenLifetime = 5 * time.Minute

// GitHubRun is what a GitHub Actions job runs for; it decides the subject of
// its OIDC token, the value a federated credential must name exactly:
//
//	environment set:              repo:ORG/REPO:environment:NAME
//	EventName "pull_request":     repo:ORG/REPO:pull_request
//	otherwise (branch or tag):    repo:ORG/REPO:ref:REF (refs/heads/main, refs/tags/v1)
type GitHubRun struct {
	Repository  string // ORG/REPO
	Ref         string // refs/heads/BRANCH or refs/tags/TAG
	Environment string // the job's deployment environment, if any
	EventName   string // "push" when empty
}

// Subject is the sub claim GitHub gives the run's token.
func (r GitHubRun) Subject() string {
	switch {
	case r.Environment != "":
		return "repo:" + r.Repository + ":environment:" + r.Environment
	case r.EventName == "pull_request":
		return "repo:" + r.Repository + ":pull_request"
	}
	return "repo:" + r.Repository + ":ref:" + r.Ref
}

// IssueGitHubToken returns an OIDC token of the hosted GitHub-kind issuer
// for run, as GitHub Actions issues it: sub per [GitHubRun.Subject], the
// claims repository, repository_owner, ref, ref_type, event_name,
// environment (when set), workflow and job_workflow_ref, aud, iss, and five
// minutes of validity (ttl > 0 overrides it).
func (s *Server) IssueGitHubToken(issuer string, run GitHubRun, audience string, ttl time.Duration) (string, error) {
	if s.issuerKinds[issuer] != IssuerKindGitHub {
		return "", errUnknownIssuer
	}
	k, ok := s.hostedIssuerKey(issuer)
	if !ok {
		return "", errUnknownIssuer
	}
	if ttl <= 0 {
		ttl = gitHubTokenLifetime
	}
	event := run.EventName
	if event == "" {
		event = "push"
	}
	owner, _, _ := strings.Cut(run.Repository, "/")
	refType := "branch"
	if strings.HasPrefix(run.Ref, "refs/tags/") {
		refType = "tag"
	}
	now := s.now()
	claims := jwt.MapClaims{
		"iss":                   s.IssuerURL(issuer),
		"sub":                   run.Subject(),
		"aud":                   audience,
		"repository":            run.Repository,
		"repository_owner":      owner,
		"ref":                   run.Ref,
		"ref_type":              refType,
		"event_name":            event,
		"workflow":              "inventory",
		"job_workflow_ref":      run.Repository + "/.github/workflows/inventory.yml@" + run.Ref,
		"runner_environment":    "github-hosted",
		"repository_visibility": "private",
		"iat":                   now.Unix(),
		"nbf":                   now.Unix(),
		"exp":                   now.Add(ttl).Unix(),
		"jti":                   randomID(),
	}
	if run.Environment != "" {
		claims["environment"] = run.Environment
	}
	return k.sign(claims)
}

// GitHubTokenRequestURL is ACTIONS_ID_TOKEN_REQUEST_URL for the hosted
// GitHub-kind issuer name: it already has a query, as GitHub's has, and
// clients append &audience=….
func (s *Server) GitHubTokenRequestURL(issuer string) string {
	return s.msiURL + "/github/" + url.PathEscape(issuer) + "/idtoken?api-version=2.0"
}

// GitHubRequestToken is ACTIONS_ID_TOKEN_REQUEST_TOKEN: the bearer token the
// token request endpoint requires. A secret, like the identity header.
func (s *Server) GitHubRequestToken() string { return s.platforms.gitHubToken }

// gitHubRunOf is the run a GitHub-kind issuer's token request endpoint
// issues for: the issuer's Repository and Ref in the scenario.
func (s *Server) gitHubRunOf(issuer string) GitHubRun {
	for _, is := range s.sc.Issuers {
		if is.Name == issuer {
			return GitHubRun{Repository: is.Repository, Ref: is.Ref, Environment: is.Environment}
		}
	}
	return GitHubRun{}
}

// gitHubTokenRequest is GET /github/{name}/idtoken?api-version=2.0&audience=…
// with Authorization: bearer {request token}, answered {"count":…,"value":jwt}
// as GitHub's Actions service does. Without an audience the token's aud is
// the repository owner's URL, as on GitHub.
func (s *Server) gitHubTokenRequest(w http.ResponseWriter, r *http.Request, issuer string) {
	info := infoFrom(r.Context())
	info.form = redactForm(r.URL.Query())
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "Only GET is supported."})
		return
	}
	if s.issuerKinds[issuer] != IssuerKindGitHub {
		s.notFound(w, r)
		return
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") || subtle.ConstantTimeCompare([]byte(tok), []byte(s.platforms.gitHubToken)) != 1 {
		info.code = "unauthorized"
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unable to get ACTIONS_ID_TOKEN_REQUEST_URL env variable or the request token is not valid."})
		return
	}
	run := s.gitHubRunOf(issuer)
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		owner, _, _ := strings.Cut(run.Repository, "/")
		aud = "https://github.com/" + owner
	}
	jwt, err := s.IssueGitHubToken(issuer, run, aud, 0)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "The token could not be issued."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(jwt), "value": jwt})
}

// validateIssuerKind checks an issuer's kind and, for GitHub, its run.
func validateIssuerKind(is ExternalIssuer, path string, add func(format string, args ...any)) {
	switch is.Kind {
	case "":
		if is.Repository != "" || is.Ref != "" || is.Environment != "" {
			add("%s: repository, ref and environment are for kind %q", path, IssuerKindGitHub)
		}
	case IssuerKindGitHub:
		if owner, repo, ok := strings.Cut(is.Repository, "/"); !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
			add("%s.repository: %q is not ORG/REPO", path, is.Repository)
		}
		if !strings.HasPrefix(is.Ref, "refs/") {
			add("%s.ref: %q is not a ref such as refs/heads/main", path, is.Ref)
		}
	default:
		add("%s.kind: %q is neither empty (a generic OIDC issuer) nor %q", path, is.Kind, IssuerKindGitHub)
	}
}

func subtleEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
