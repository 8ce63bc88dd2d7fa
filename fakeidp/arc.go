package fakeidp

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tenantbridge/tenantbridge/internal/fault"
)

// Paths of the platform endpoints on the managed-identity listener, beside
// App Service's and IMDS's. Arc's endpoint has IMDS's path under a prefix of
// its own, since both would otherwise share one listener.
const (
	arcBasePath   = "/arc"
	arcPath       = arcBasePath + imdsPath
	gitHubPrefix  = "/github/"
	gitHubSuffix  = "/idtoken"
	arcAPIVersion = "2019-11-01"
	// maxArcKeys bounds the challenges outstanding at once; the oldest key
	// (and its file) goes first.
	maxArcKeys = 32
)

// platforms holds the state of the GitHub Actions and Azure Arc endpoints.
type platforms struct {
	gitHubToken string

	mu        sync.Mutex
	keyDir    string // where challenge key files go
	ownKeyDir bool   // made by the server, removed by Close
	keys      []arcKey
}

type arcKey struct{ key, path string }

func newPlatforms(o *Options) *platforms {
	p := &platforms{gitHubToken: o.GitHubRequestToken, keyDir: o.ArcKeyDirectory}
	if p.gitHubToken == "" {
		p.gitHubToken = randomHex(24)
	}
	return p
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// platformHandler serves the GitHub Actions and Azure Arc endpoints and
// hands every other request of the managed-identity listener to next.
func (s *Server) platformHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if name, ok := strings.CutPrefix(p, gitHubPrefix); ok {
			if name, ok = strings.CutSuffix(name, gitHubSuffix); ok && name != "" && !strings.Contains(name, "/") {
				s.serve(ListenerMSI, fault.EndpointGitHub, "", w, r, func(w http.ResponseWriter, r *http.Request) { s.gitHubTokenRequest(w, r, name) })
				return
			}
		}
		if strings.TrimSuffix(p, "/") == arcPath {
			s.serve(ListenerMSI, fault.EndpointArc, "", w, r, s.arc)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ArcEndpoint is IDENTITY_ENDPOINT of an Arc-enabled server: the agent's
// token endpoint.
func (s *Server) ArcEndpoint() string { return s.msiURL + arcPath }

// ArcIMDSEndpoint is IMDS_ENDPOINT of an Arc-enabled server.
func (s *Server) ArcIMDSEndpoint() string { return s.msiURL + arcBasePath }

// ArcKeyDirectory is where the Arc endpoint writes its challenge key files:
// Options.ArcKeyDirectory, else a directory the server made on the first
// challenge ("" until then), which Close removes.
func (s *Server) ArcKeyDirectory() string {
	s.platforms.mu.Lock()
	defer s.platforms.mu.Unlock()
	return s.platforms.keyDir
}

// arc is the Connected Machine agent's identity endpoint (HIMDS): a request
// without a key gets 401 and WWW-Authenticate: Basic realm=<key file>, after
// the agent wrote a fresh random key there; the same request with
// Authorization: Basic <key> gets the machine's system-assigned identity's
// token in the IMDS shape. Each key is good for one answer. Arc has no
// user-assigned identities: a selector is refused.
func (s *Server) arc(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	info := infoFrom(r.Context())
	info.form = redactForm(q)
	if r.Method != http.MethodGet {
		imdsError(w, r, http.StatusMethodNotAllowed, "invalid_request", "Only GET is supported")
		return
	}
	if r.Header.Get("Metadata") != "true" {
		imdsError(w, r, http.StatusBadRequest, "invalid_request", "Required metadata header not specified")
		return
	}
	switch v := q.Get("api-version"); v {
	case arcAPIVersion, "2020-06-01":
	case "":
		imdsError(w, r, http.StatusBadRequest, "invalid_request", "Required query variable 'api-version' is missing")
		return
	default:
		imdsError(w, r, http.StatusBadRequest, "invalid_request", "Invalid api-version '"+clip(v)+"'")
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		imdsError(w, r, http.StatusBadRequest, "invalid_request", "Required query variable 'resource' is missing")
		return
	}
	for _, sel := range []string{"client_id", "object_id", "principal_id", "msi_res_id", "mi_res_id"} {
		if q.Has(sel) {
			imdsError(w, r, http.StatusBadRequest, "invalid_request", "User-assigned managed identities are not supported on Azure Arc-enabled servers")
			return
		}
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		path, err := s.platforms.newKey()
		if err != nil {
			imdsError(w, r, http.StatusInternalServerError, "server_error", "The key file could not be written")
			return
		}
		w.Header().Set("WWW-Authenticate", "Basic realm="+path)
		imdsError(w, r, http.StatusUnauthorized, "unauthorized", "Authorization is required: repeat the request with the key the realm's file holds")
		return
	}
	scheme, key, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Basic") || !s.platforms.useKey(key) {
		imdsError(w, r, http.StatusUnauthorized, "unauthorized", "The key is not valid")
		return
	}
	var id *ManagedIdentity
	for i := range s.identities {
		if s.identities[i].Kind == KindSystem {
			id = &s.identities[i]
			break
		}
	}
	if id == nil {
		imdsError(w, r, http.StatusBadRequest, "invalid_request", "Identity not found")
		return
	}
	info.clientID = id.ClientID
	s.answerIMDS(w, r, info, id, resource)
}

// newKey writes a fresh key file and returns its path.
func (p *platforms) newKey() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keyDir == "" {
		dir, err := os.MkdirTemp("", "fakeidp-azcmagent-")
		if err != nil {
			return "", err
		}
		p.keyDir, p.ownKeyDir = dir, true
	}
	k := arcKey{key: randomHex(32)}
	k.path = filepath.Join(p.keyDir, randomHex(16)+".key")
	if err := os.WriteFile(k.path, []byte(k.key), 0o600); err != nil {
		return "", err
	}
	if len(p.keys) == maxArcKeys {
		os.Remove(p.keys[0].path)
		p.keys = p.keys[1:]
	}
	p.keys = append(p.keys, k)
	return k.path, nil
}

// useKey accepts an outstanding key once, removing it and its file.
func (p *platforms) useKey(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, k := range p.keys {
		if subtleEqual(k.key, key) {
			os.Remove(k.path)
			p.keys = append(p.keys[:i], p.keys[i+1:]...)
			return true
		}
	}
	return false
}

// close removes the key files, and the key directory when the server made it.
func (p *platforms) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.keys {
		os.Remove(k.path)
	}
	p.keys = nil
	if p.ownKeyDir {
		os.RemoveAll(p.keyDir)
	}
}
