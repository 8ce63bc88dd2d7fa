package assertion

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

const arcName = "AzureArc"

// arcAPIVersion is what the Arc agent's identity endpoint (HIMDS) speaks, as
// azidentity and MSAL send it.
const arcAPIVersion = "2019-11-01"

// maxArcKeyBytes bounds the key file, as the Azure SDKs do: the agent writes a
// short random key.
const maxArcKeyBytes = 4096

// ArcKeyDirectory returns the directory where the Azure Connected Machine
// agent writes its challenge key files, the only directory [AzureArc] reads a
// key from by default: /var/opt/azcmagent/tokens on Linux,
// %ProgramData%\AzureConnectedMachineAgent\Tokens on Windows, "" elsewhere
// (the agent runs on neither).
func ArcKeyDirectory() string {
	switch runtime.GOOS {
	case "linux":
		return "/var/opt/azcmagent/tokens"
	case "windows":
		pd := os.Getenv("ProgramData")
		if pd == "" {
			return ""
		}
		return filepath.Join(pd, "AzureConnectedMachineAgent", "Tokens")
	}
	return ""
}

// AzureArcOptions configures [AzureArc]. The zero value (or nil) reads the
// endpoint from IDENTITY_ENDPOINT and trusts key files in [ArcKeyDirectory].
type AzureArcOptions struct {
	// Endpoint is the agent's identity endpoint; empty reads
	// IDENTITY_ENDPOINT (with IMDS_ENDPOINT, the agent sets it to
	// http://localhost:40342/metadata/identity/oauth2/token).
	Endpoint string
	// KeyDirectory is the only directory a challenge's key file may be read
	// from; empty means [ArcKeyDirectory]. Tests and emulators point it at a
	// directory of their own.
	KeyDirectory string

	// ID must be nil: an Arc-enabled server has only its system-assigned
	// identity. A selector is refused with an error wrapping
	// [ErrUserAssignedNotSupported].
	ID ManagedIDKind

	// Resource is the audience asked for. Empty takes the audience of Cloud,
	// else of AZURE_AUTHORITY_HOST's cloud, else [ResourceAzurePublic].
	Resource string
	// Cloud is the cloud whose Entra receives the assertion; only its
	// authority host is read, to pick the audience.
	Cloud cloud.Configuration

	// Transport sends the requests; an *http.Client satisfies it. Redirects
	// are never followed (the second request carries the key). Nil means a
	// client without proxy and a 30 s per-attempt timeout.
	Transport policy.Transporter
	// MaxRetries bounds the retries of 404, 410, 429 and 5xx answers and
	// transport errors: 0 means 5, negative means none.
	MaxRetries int
	// MaxRetryDelay caps each wait between attempts, Retry-After included.
	// 0 means 30 s.
	MaxRetryDelay time.Duration
	// Logger receives [EventAssertion] entries; nil logs nothing.
	Logger func(event log.Event, message string)
}

// AzureArc returns a [Source] for the managed identity of an Azure
// Arc-enabled server, through the Connected Machine agent's local identity
// endpoint (HIMDS). The protocol, as the agent and the Azure SDKs speak it:
//
//  1. GET {IDENTITY_ENDPOINT}?api-version=2019-11-01&resource=… with
//     Metadata: true is answered 401 with
//     WWW-Authenticate: Basic realm=<path of a key file>; the agent has just
//     written a random key there, readable by the local administrators and
//     the himds group only.
//  2. The client reads the key, but only from the agent's token directory,
//     only a regular file with the .key extension, at most 4 KiB, and never
//     through a symbolic link that leaves the directory (a hostile endpoint
//     must not make it read and send another file).
//  3. The same GET with Authorization: Basic <key> returns the token in the
//     IMDS response shape.
//
// The server has one identity, its system-assigned one (Arc supports no
// user-assigned identities). The source does not cache; wrap it with [Cached].
func AzureArc(opts *AzureArcOptions) (Source, error) {
	if opts == nil {
		opts = &AzureArcOptions{}
	}
	if opts.ID != nil {
		return nil, fmt.Errorf("assertion: %s: cannot select identity %s: an Arc-enabled server has only its system-assigned identity: %w", arcName, opts.ID, ErrUserAssignedNotSupported)
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = os.Getenv("IDENTITY_ENDPOINT")
	}
	if endpoint == "" {
		return nil, errors.New("assertion: AzureArc: no endpoint: set IDENTITY_ENDPOINT (the Connected Machine agent sets it with IMDS_ENDPOINT), or AzureArcOptions.Endpoint")
	}
	u, printable, err := parseEndpoint(arcName, endpoint)
	if err != nil {
		return nil, err
	}
	dir := opts.KeyDirectory
	if dir == "" {
		dir = ArcKeyDirectory()
	}
	m := newMSIClient(msiConfig{
		name:           arcName,
		transport:      opts.Transport,
		logger:         opts.Logger,
		maxRetries:     opts.MaxRetries,
		defaultRetries: 5,
		maxDelay:       opts.MaxRetryDelay,
		baseDelay:      time.Second,
		retryStatus:    imdsRetryable,
	})
	m.endpoint = printable
	m.url = buildURL(u, arcAPIVersion, audienceFor(opts.Resource, opts.Cloud), "", "")
	m.header = http.Header{"Metadata": {"true"}}
	m.identity = systemAssigned
	m.hint = arcHint
	m.challenge = func(resp *http.Response) (http.Header, string, error) {
		key, err := readArcKey(resp.Header.Get("WWW-Authenticate"), dir)
		if err != nil {
			return nil, "", err
		}
		return http.Header{"Authorization": {"Basic " + key}}, key, nil
	}
	return &arcSource{msiClient: m, dir: dir}, nil
}

// readArcKey reads the key file a 401 challenge names. Errors name the path
// and the rule it broke, never the key.
func readArcKey(challenge, dir string) (string, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("assertion: "+arcName+": "+format, args...)
	}
	scheme, realm, ok := strings.Cut(strings.TrimSpace(challenge), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", fail("the endpoint answered 401 without a Basic challenge (WWW-Authenticate: Basic realm=<key file>): is IDENTITY_ENDPOINT the Connected Machine agent?")
	}
	name, path, ok := strings.Cut(strings.TrimSpace(realm), "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(name), "realm") {
		return "", fail("the 401 challenge names no key file (want Basic realm=<path>)")
	}
	path = strings.Trim(strings.TrimSpace(path), `"`)
	quoted := leak.Clip(path, 256) // text from the network
	if dir == "" {
		return "", fail("the challenge names key file %q, but there is no key directory to trust on %s: set AzureArcOptions.KeyDirectory", quoted, runtime.GOOS)
	}
	if !filepath.IsAbs(path) {
		return "", fail("the challenge's key file %q is not an absolute path", quoted)
	}
	if filepath.Ext(path) != ".key" {
		return "", fail("the challenge's key file %q does not have the .key extension; refusing to read it", quoted)
	}
	clean := filepath.Clean(path)
	if filepath.Dir(clean) != filepath.Clean(dir) {
		return "", fail("the challenge's key file %q is not in the agent's key directory %s; refusing to read it", quoted, dir)
	}
	// os.Root refuses any path, symbolic links included, that resolves
	// outside dir: a link in the directory cannot make us send another file.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", fail("opening the key directory: %w", err)
	}
	defer root.Close()
	base := filepath.Base(clean)
	f, err := root.Open(base)
	if err != nil {
		return "", fail("key file %q cannot be opened inside the key directory %s (a symbolic link that leads out of it is refused): %w", quoted, dir, pathErrorCause(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fail("key file %q: %w", quoted, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fail("key file %q is not a regular file; refusing to read it", quoted)
	}
	if fi.Size() > maxArcKeyBytes {
		return "", fail("key file %q is %d bytes, more than the %d a key may have; refusing to read it", quoted, fi.Size(), maxArcKeyBytes)
	}
	b, err := bodylimit.Read(f, maxArcKeyBytes)
	if err != nil {
		return "", fail("reading key file %q: %w", quoted, err)
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", fail("key file %q is empty", quoted)
	}
	return key, nil
}

// pathErrorCause keeps an *fs.PathError's cause and drops its path, which
// the caller's message names already.
func pathErrorCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type arcSource struct {
	*msiClient
	dir string
}

// Assertion asks the agent for a new assertion, answering its challenge.
func (s *arcSource) Assertion(ctx context.Context) (Assertion, error) {
	return s.fetch(ctx)
}

// String names the endpoint and the key directory, never a key.
func (s *arcSource) String() string {
	return "assertion.AzureArc(" + s.endpoint + ", keys in " + s.dir + ")"
}

// GoString matches String.
func (s *arcSource) GoString() string { return s.String() }

// arcHint names the usual cause of a refused answer to the key.
func arcHint(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "the agent refused the key from its challenge file: a key is good for one request (the agent may have restarted, or another process used it); try again"
	case http.StatusForbidden:
		return "the agent refused this caller: reading its key files takes root or the himds group (Administrators or Hybrid agent extension applications on Windows)"
	case http.StatusBadRequest:
		return "the agent refused the request: an Arc-enabled server has only its system-assigned identity, and the resource must be a valid audience"
	}
	return ""
}
