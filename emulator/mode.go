package emulator

// Mode is the managed-identity flavour the emulator presents to the code under
// test: which platform's variables the environment block sets, and so which
// source assertion.FromEnvironment, azidentity and @azure/identity detect.
type Mode string

// The modes. Each is what one Azure platform gives a workload.
const (
	// ModeAppService is App Service / Azure Functions: IDENTITY_ENDPOINT and
	// IDENTITY_HEADER, and the older MSI_ENDPOINT and MSI_SECRET (Functions
	// sets both pairs). The default.
	ModeAppService Mode = "appservice"
	// ModeIMDS is a VM's Instance Metadata Service, found through
	// AZURE_POD_IDENTITY_AUTHORITY_HOST (the real address is fixed).
	ModeIMDS Mode = "imds"
	// ModeWorkload is AKS workload identity: a projected service-account token
	// in AZURE_FEDERATED_TOKEN_FILE, rewritten before it expires.
	ModeWorkload Mode = "workload"
	// ModeGitHub is a GitHub Actions job with `permissions: id-token: write`:
	// ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN, served
	// by the scenario's GitHub-kind issuer (fakeidp.IssuerKindGitHub).
	ModeGitHub Mode = "github"
	// ModeArc is an Azure Arc-enabled server: IDENTITY_ENDPOINT and
	// IMDS_ENDPOINT of the Connected Machine agent, whose first answer is a
	// 401 challenge naming a key file the emulator writes into a directory
	// of its own (FAKEMSI_ARC_KEY_DIR, [Options].ArcKeyDirectory).
	ModeArc Mode = "arc"
)

// Modes returns every mode, the default first.
func Modes() []Mode { return []Mode{ModeAppService, ModeIMDS, ModeWorkload, ModeGitHub, ModeArc} }

// Valid reports whether m is one of [Modes].
func (m Mode) Valid() bool {
	for _, x := range Modes() {
		if m == x {
			return true
		}
	}
	return false
}
