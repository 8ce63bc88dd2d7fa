package emulator

import (
	"errors"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// gitHubIssuer is the scenario's first GitHub-kind issuer, what
// [ModeGitHub]'s token request URL serves.
func gitHubIssuer(sc *fakeidp.Scenario) (string, error) {
	for _, is := range sc.Issuers {
		if is.Kind == fakeidp.IssuerKindGitHub {
			return is.Name, nil
		}
	}
	return "", errors.New(`emulator: github mode needs an issuer of kind "github" in the scenario (its repository and ref are the job's)`)
}

// ArcKeyDirectory is where [ModeArc] writes the challenge key files
// (FAKEMSI_ARC_KEY_DIR), "" in other modes: what
// assertion.AzureArcOptions.KeyDirectory must name.
func (e *Emulator) ArcKeyDirectory() string { return e.arcKeyDir }

// ArcEndpoint is the Azure Arc agent's identity endpoint (IDENTITY_ENDPOINT
// in [ModeArc]), whatever the mode.
func (e *Emulator) ArcEndpoint() string { return e.idp.ArcEndpoint() }

// GitHubTokenRequestURL is ACTIONS_ID_TOKEN_REQUEST_URL in [ModeGitHub], ""
// in other modes.
func (e *Emulator) GitHubTokenRequestURL() string {
	if e.gitHubIssuer == "" {
		return ""
	}
	return e.idp.GitHubTokenRequestURL(e.gitHubIssuer)
}

// GitHubRequestToken is ACTIONS_ID_TOKEN_REQUEST_TOKEN, a secret.
func (e *Emulator) GitHubRequestToken() string { return e.idp.GitHubRequestToken() }
