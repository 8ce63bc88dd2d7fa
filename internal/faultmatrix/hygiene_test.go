package faultmatrix

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fanout"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// Recognisable secrets. The assertion is JWT-shaped with a signature as long
// as an RS256 one, so that its signature part alone is recognisable too; the
// access token and the identity header are opaque, so that only knowing them
// finds them.
var (
	secretSig       = "SIGpart" + strings.Repeat("Zq9_", 84)
	secretAssertion = jwtWith(map[string]any{"iss": "https://login.microsoftonline.com/" + homeTenant + "/v2.0", "sub": "hygiene",
		"aud": "api://AzureADTokenExchange", "exp": time.Now().Add(24 * time.Hour).Unix(), "nbf": time.Now().Add(-time.Minute).Unix()}, secretSig)
	secretAccessToken = "AT-opaque-" + strings.Repeat("s3cr3t", 20)
	secretHeader      = "IDH-opaque-" + strings.Repeat("h3ad3r", 10)
)

func jwtWith(claims map[string]any, sig string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k"}) + "." + enc(claims) + "." + sig
}

// secretsIn names the secrets text holds (a name, never the secret).
func secretsIn(text string, secrets map[string]string) []string {
	var found []string
	for name, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			found = append(found, name)
		}
	}
	return found
}

// sink gathers every text a secret must not reach: errors in every format,
// azcore's log listener, our Logger options, slog, panic values.
type sink struct {
	mu    sync.Mutex
	texts map[string][]string // where -> texts
}

func (s *sink) add(where, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.texts == nil {
		s.texts = map[string][]string{}
	}
	s.texts[where] = append(s.texts[where], text)
}

func (s *sink) addErr(where string, err error) {
	if err == nil {
		return
	}
	s.add(where+": Error()", err.Error())
	s.add(where+": %+v", fmt.Sprintf("%+v", err))
	s.add(where+": %#v", fmt.Sprintf("%#v", err))
	for e := err; e != nil; {
		s.add(where+": chain %#v", fmt.Sprintf("%#v", e))
		switch x := e.(type) {
		case interface{ Unwrap() error }:
			e = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range x.Unwrap() {
				s.addErr(where+": joined", inner)
			}
			e = nil
		default:
			e = nil
		}
	}
}

func (s *sink) logger(where string) func(azlog.Event, string) {
	return func(ev azlog.Event, msg string) { s.add(where, string(ev)+": "+msg) }
}

// call runs f, recording its error and any panic value.
func (s *sink) call(where string, f func() error) {
	defer func() {
		if p := recover(); p != nil {
			s.add(where+": panic value", fmt.Sprint(p))
			s.add(where+": panicked", "the SDK panicked")
		}
	}()
	s.addErr(where, f())
}

func (s *sink) check(t *testing.T, secrets map[string]string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	// leak.Find looks further: any 12-character fragment of a signature
	// part, and a JWT header ("eyJ") anywhere.
	var list []string
	for _, sec := range secrets {
		list = append(list, sec)
	}
	n := 0
	for where, texts := range s.texts {
		for _, text := range texts {
			n++
			if strings.HasSuffix(where, ": panicked") {
				t.Errorf("%s", where)
			}
			if found := secretsIn(text, secrets); len(found) > 0 {
				t.Errorf("%s holds %v (%d bytes of text)", where, found, len(text))
			} else if what := leak.Find(claimsChallenge.ReplaceAllString(text, "claims="), list...); what != "" {
				t.Errorf("%s holds %s (%d bytes of text)", where, what, len(text))
			}
		}
	}
	if n == 0 {
		t.Error("nothing was recorded: the test checked nothing")
	}
}

// claimsChallenge matches the claims of a CAE challenge in a logged
// WWW-Authenticate header: base64 JSON, so it starts with "eyJ" like a JWT
// header, but it is the resource's demand, not a credential.
var claimsChallenge = regexp.MustCompile(`claims="[A-Za-z0-9+/=]*"`)

// echoAll is what a hostile endpoint answers in every field: every secret
// it received, the signature part of each that is a JWT, and a forged log
// line carrying a JWT.
func echoAll(received ...string) string {
	parts := []string{"\r\nforged log line " + secretAssertion}
	for _, r := range received {
		parts = append(parts, r)
		if i := strings.LastIndexByte(r, '.'); i >= 0 {
			parts = append(parts, r[i+1:])
		}
	}
	return strings.Join(parts, " ")
}

// transportTrusting is one transport that trusts the given TLS servers.
func transportTrusting(servers ...*httptest.Server) *http.Transport {
	pool := x509.NewCertPool()
	for _, s := range servers {
		pool.AddCert(s.Certificate())
	}
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
}

// TestNoSecretReachesErrorsLogsOrPanics drives every error path of the
// assertion sources, federated and graphlite against hostile loopback
// endpoints that echo recognisable secrets in every field they have, and
// fails if a secret, or the assertion's signature part alone, appears in an
// error (Error(), %+v, %#v, each wrapped error), a log record (azcore's
// listener, our Logger options, the emulator's slog) or a panic value
// (issue 11).
func TestNoSecretReachesErrorsLogsOrPanics(t *testing.T) {
	s := &sink{}
	azlog.SetListener(s.logger("azcore log listener"))
	defer azlog.SetListener(nil)
	secrets := map[string]string{"the assertion": secretAssertion, "the assertion's signature part": secretSig,
		"the access token": secretAccessToken, "the identity header": secretHeader}

	// Managed-identity endpoints (App Service and IMDS protocols), one
	// hostile answer per mode.
	msiModes := []string{"400", "401", "500", "429", "307", "bad-expiry", "not-json", "huge"}
	var msiMode sync.Map // path -> mode
	msi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mode, _ := msiMode.Load(r.URL.Query().Get("client_id"))
		echo := echoAll(r.Header.Get("X-Identity-Header"), r.Header.Get("Secret"))
		for _, h := range []string{"X-Ms-Request-Id", "X-Correlation-Id", "Retry-After"} {
			w.Header().Set(h, echo)
		}
		w.Header().Set("Content-Type", "application/json")
		body, _ := json.Marshal(map[string]any{"statusCode": echo, "message": echo, "error": echo, "error_description": echo, "correlationId": echo})
		switch mode {
		case "307":
			w.Header().Set("Location", "http://localhost:1/"+url.PathEscape(echo))
			w.WriteHeader(307)
		case "bad-expiry":
			fmt.Fprintf(w, `{"access_token":%q,"expires_on":%q,"expires_in":%q,"resource":%q}`, secretAssertion, echo, echo, echo)
			return
		case "not-json":
			w.WriteHeader(200)
			io.WriteString(w, "<html>"+echo+"</html>")
			return
		case "huge":
			w.WriteHeader(500)
			io.WriteString(w, strings.Repeat(echo, (2<<20)/len(echo)))
			return
		default:
			var code int
			fmt.Sscan(mode.(string), &code)
			w.WriteHeader(code)
		}
		w.Write(body)
	}))
	defer msi.Close()
	for _, mode := range msiModes {
		id := "cid-" + mode
		msiMode.Store(id, mode)
		app, err := assertion.AppService(&assertion.AppServiceOptions{Endpoint: msi.URL + "/msi/token", IdentityHeader: secretHeader, ClientID: id,
			MaxRetries: 1, MaxRetryDelay: time.Millisecond, Logger: s.logger("assertion Logger")})
		if err != nil {
			t.Fatal(err)
		}
		imds, err := assertion.IMDS(&assertion.IMDSOptions{Endpoint: msi.URL, ClientID: id, MaxRetries: 1, MaxRetryDelay: time.Millisecond, Logger: s.logger("assertion Logger")})
		if err != nil {
			t.Fatal(err)
		}
		for name, src := range map[string]assertion.Source{"AppService": app, "IMDS": imds} {
			cached := assertion.CachedWithOptions(src, &assertion.CacheOptions{Logger: s.logger("assertion Logger")})
			s.call("assertion."+name+" "+mode, func() error { _, err := cached.Assertion(context.Background()); return err })
			s.add("assertion."+name+" String", fmt.Sprintf("%v %+v %#v", cached, cached, cached))
		}
	}

	// A workload token file holding an expired assertion, then garbage with
	// the identity header in it: neither error may quote the file.
	dir := t.TempDir()
	expired := jwtWith(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}, secretSig)
	for name, content := range map[string]string{"expired": expired, "garbage": "not a JWT " + secretHeader + " " + secretSig} {
		path := dir + "/" + name
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		wf, err := assertion.WorkloadFile(path)
		if err != nil {
			s.addErr("assertion.WorkloadFile "+name+" (constructor)", err)
			continue
		}
		s.call("assertion.WorkloadFile "+name, func() error {
			_, err := assertion.Cached(wf).Assertion(context.Background())
			return err
		})
	}
	secrets["the expired assertion in the token file"] = expired

	// Entra: echoes the client assertion it received, whole and its
	// signature part, in every field of its error body and in its headers.
	entraModes := []string{"400", "401", "429", "500", "307", "bad-expiry", "not-json", "ok"}
	entra := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got := r.PostForm.Get("client_assertion")
		mode := r.PostForm.Get("scope")
		mode = strings.TrimSuffix(strings.TrimPrefix(mode, "https://"), "/.default")
		echo := echoAll(got)
		for _, h := range []string{"X-Ms-Request-Id", "Client-Request-Id", "Retry-After", "Www-Authenticate"} {
			w.Header().Set(h, echo)
		}
		w.Header().Set("Content-Type", "application/json")
		switch mode {
		case "ok":
			fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3600,"access_token":%q}`, secretAccessToken)
			return
		case "bad-expiry":
			fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%q,"refresh_in":%q,"access_token":%q}`, echo, echo, secretAccessToken)
			return
		case "not-json":
			w.WriteHeader(400)
			io.WriteString(w, "<html>"+echo+"</html>")
			return
		case "307":
			w.Header().Set("Location", "https://localhost:1/"+url.PathEscape(echo))
			w.WriteHeader(307)
			return
		}
		var code int
		fmt.Sscan(mode, &code)
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"error": echo, "error_description": "AADSTS700016: " + echo, "error_codes": []int{700016, 700024},
			"trace_id": echo, "correlation_id": echo, "timestamp": echo})
	}))
	defer entra.Close()
	tr := transportTrusting(entra)
	defer tr.CloseIdleConnections()
	src := assertion.Func(func(context.Context) (assertion.Assertion, error) {
		return assertion.Assertion{Token: secretAssertion, ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	cred, err := federated.NewCredential(homeTenant, appID, src, &federated.Options{
		ClientOptions: policy.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: entra.URL}, Transport: &http.Client{Transport: tr},
			Retry:   policy.RetryOptions{MaxRetries: 1, RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond},
			Logging: policy.LogOptions{IncludeBody: true, AllowedHeaders: []string{"X-Ms-Request-Id", "Client-Request-Id", "Www-Authenticate"}}},
		Logger: s.logger("federated Logger"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range entraModes {
		for _, claims := range []string{"", `{"access_token":{"nbf":{"essential":true,"value":"1"}}}`} {
			s.call("federated "+mode, func() error {
				tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://" + mode + "/.default"}, Claims: claims})
				if err == nil && tok.Token != secretAccessToken {
					return fmt.Errorf("mode %s: unexpected token", mode)
				}
				return err
			})
		}
	}
	s.add("federated String", fmt.Sprintf("%v %+v %#v", cred, cred, cred))

	// A source that panics with its own assertion in the panic value, on
	// the synchronous path and inside Cached.
	panicky := assertion.Func(func(context.Context) (assertion.Assertion, error) { panic("boom " + secretAssertion) })
	pcred, err := federated.NewCredential(homeTenant, appID, panicky, &federated.Options{
		ClientOptions: policy.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: entra.URL}, Transport: &http.Client{Transport: tr}},
		Logger:        s.logger("federated Logger"),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.call("federated with a panicking source", func() error {
		_, err := pcred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://ok/.default"}})
		return err
	})

	// fanout runs a function per tenant: one panics with the assertion in
	// its value, one calls runtime.Goexit.
	for _, r := range fanout.Run(context.Background(), []string{"a", "b"}, nil, func(ctx context.Context, tenant string) (int, error) {
		if tenant == "a" {
			panic("boom " + secretAssertion)
		}
		runtime.Goexit()
		return 0, nil
	}) {
		s.addErr("fanout tenant "+r.Tenant, r.Err)
	}

	// Graph: echoes the bearer token it received, whole and its last part,
	// in every field of its error body, in innerError, in its headers and in
	// a nextLink to another host.
	graphModes := []string{"400", "401", "403", "429", "500", "503", "bad-page", "elsewhere", "huge"}
	graph := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		echo := echoAll(tok)
		mode := strings.TrimPrefix(r.URL.Path, "/v1.0/")
		for _, h := range []string{"request-id", "client-request-id", "Retry-After", "Date", "Www-Authenticate"} {
			w.Header().Set(h, echo)
		}
		w.Header().Set("Content-Type", "application/json")
		switch mode {
		case "bad-page":
			fmt.Fprintf(w, `{"value":[{"id":%q}],"@odata.nextLink":%q,"value":[%q,`, echo, echo, echo)
			return
		case "elsewhere":
			fmt.Fprintf(w, `{"value":[{"id":"1"}],"@odata.nextLink":%q}`, "https://"+url.PathEscape(echo)+".example/v1.0/x")
			return
		case "huge":
			w.WriteHeader(403)
			io.WriteString(w, strings.Repeat(echo, (3<<20)/len(echo)))
			return
		}
		code := 401 // $batch too
		fmt.Sscan(mode, &code)
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": echo, "message": echo,
			"innerError": map[string]any{"request-id": echo, "client-request-id": echo, "date": echo, "nested": []any{echo, map[string]any{echo: echo}}}}})
	}))
	defer graph.Close()
	gtr := transportTrusting(entra, graph)
	defer gtr.CloseIdleConnections()
	gcred, err := federated.NewCredential(homeTenant, appID, src, &federated.Options{
		ClientOptions: policy.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: entra.URL}, Transport: &http.Client{Transport: gtr}},
	})
	if err != nil {
		t.Fatal(err)
	}
	gopts := &graphlite.Options{BaseURL: graph.URL + "/v1.0", Scope: "https://ok/.default"}
	gopts.Transport = &http.Client{Transport: gtr}
	gopts.Retry.MaxRetries = 1
	gopts.Retry.RetryDelay = time.Millisecond
	gopts.Logging.IncludeBody = true
	gopts.Logging.AllowedHeaders = []string{"Www-Authenticate", "Date"}
	gopts.Throttle.Wait = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	gc, err := graphlite.New(gcred, gopts)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range graphModes {
		s.call("graphlite List "+mode, func() error {
			for _, err := range graphlite.List[map[string]any](context.Background(), gc, "/"+mode, nil) {
				if err != nil {
					return err
				}
			}
			return nil
		})
		s.call("graphlite Get "+mode, func() error { return gc.Get(context.Background(), "/"+mode, nil, &map[string]any{}) })
	}
	s.call("graphlite Batch", func() error {
		res, err := gc.Batch(context.Background(), []graphlite.BatchRequest{{Path: "/401"}})
		for _, r := range res {
			s.addErr("graphlite BatchResponse.Err", r.Err())
		}
		return err
	})

	// The emulator's slog records, with its own tokens as the secrets.
	var slogBuf bytes.Buffer
	var slogMu sync.Mutex
	emu := startEmulator(t, &emulator.Options{Logger: slog.New(slog.NewTextHandler(lockedWriter{&slogMu, &slogBuf}, nil))})
	ch := newChain(t, emu, chainOptions{})
	a, err := ch.src.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	at, err := ch.cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: consentedTenant})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []emulator.Fault{{Endpoint: "token", Status: 400}, {Endpoint: "graph", Status: 401}, {Endpoint: "appservice", Status: 500}} {
		emu.AddFault(f)
		s.call("emulator chain with fault "+f.Endpoint, func() error { _, err := ch.devices(context.Background()); return err })
		emu.ClearFaults()
	}
	slogMu.Lock()
	s.add("emulator slog", slogBuf.String())
	slogMu.Unlock()
	emuSecrets := map[string]string{"the emulator's assertion": a.Token, "its signature part": a.Token[strings.LastIndexByte(a.Token, '.')+1:],
		"the emulator's access token": at.Token, "the access token's signature part": at.Token[strings.LastIndexByte(at.Token, '.')+1:],
		"the emulator's identity header": emu.IdentityHeader()}
	for k, v := range emuSecrets {
		secrets[k] = v
	}
	s.check(t, secrets)
	var _ azcore.TokenCredential = cred
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
