package loadtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// EmulatorConfig is the emulator run.
type EmulatorConfig struct {
	Clients        int           // concurrent clients, each with its own connections
	Duration       time.Duration // how long they send requests
	SigningKeyBits int           // the emulator's RSA key size (0: 2048)
}

// Request kinds of the emulator run, in the order clients take turns.
var kinds = []string{"managed identity", "token", "graph", "arm"}

const nKinds = 4

// KindResult is what one kind of request got.
type KindResult struct {
	Kind        string
	Status      map[int]uint64 // answers by status code
	Errors      uint64         // transport errors (no answer)
	FirstError  string
	Latency     Latency
	Unexpected5 uint64 // 5xx answers: no fault is set, so every one is unexpected
}

// EmulatorResult is what the emulator run measured.
type EmulatorResult struct {
	Config   EmulatorConfig
	Kinds    []KindResult
	Requests uint64
	Elapsed  time.Duration
	// RSS samples, one a second, of this process (clients included).
	RSS []int64
}

// Failed says which criterion the run missed, or "".
func (r *EmulatorResult) Failed() string {
	for _, k := range r.Kinds {
		if k.Unexpected5 > 0 {
			return fmt.Sprintf("%d unexpected 5xx answers to %s requests", k.Unexpected5, k.Kind)
		}
		if k.Errors > 0 {
			return fmt.Sprintf("%d %s requests got no answer (first: %s)", k.Errors, k.Kind, k.FirstError)
		}
		for st, n := range k.Status {
			if st != http.StatusOK {
				return fmt.Sprintf("%d %s requests answered %d", n, k.Kind, st)
			}
		}
	}
	if !r.rssStable() {
		return fmt.Sprintf("RSS not stable: %s", r.rssSummary())
	}
	return ""
}

// rssStable: the largest RSS of the last third of the run is no more than
// 25% (and 32 MiB) above the largest of the middle third: after the ramp
// (connections, buffers, the request logs filling up) memory levels off.
func (r *EmulatorResult) rssStable() bool {
	n := len(r.RSS)
	if n < 3 {
		return true // too short to tell; the smoke test runs this
	}
	mid, last := maxOf(r.RSS[n/3:2*n/3]), maxOf(r.RSS[2*n/3:])
	return last <= mid+mid/4+32<<20
}

func maxOf(s []int64) int64 {
	var m int64
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

func (r *EmulatorResult) rssSummary() string {
	n := len(r.RSS)
	if n == 0 {
		return "not sampled"
	}
	return fmt.Sprintf("first %s, max of middle third %s, max of last third %s, last %s (%d samples)",
		mib(r.RSS[0]), mib(maxOf(r.RSS[n/3:2*n/3])), mib(maxOf(r.RSS[2*n/3:])), mib(r.RSS[n-1]), n)
}

func (r *EmulatorResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "emulator: %d clients, %s: %d requests (%.0f/s); RSS %s",
		r.Config.Clients, r.Elapsed.Round(time.Millisecond), r.Requests, float64(r.Requests)/r.Elapsed.Seconds(), r.rssSummary())
	for _, k := range r.Kinds {
		fmt.Fprintf(&b, "\n  %s: %d requests, statuses %v, %d transport errors, %d unexpected 5xx; latency %s",
			k.Kind, k.Latency.Count, k.Status, k.Errors, k.Unexpected5, k.Latency)
	}
	return b.String()
}

// Emulator runs the emulator load: cfg.Clients clients, each with its own
// connections (HTTP/1.1 keep-alive, as separate programs would have), taking
// turns at managed-identity, token, Graph and ARM requests, for cfg.Duration.
func Emulator(ctx context.Context, cfg EmulatorConfig) (*EmulatorResult, error) {
	if cfg.Clients <= 0 || cfg.Duration <= 0 {
		return nil, errors.New("loadtest: emulator run needs clients and a duration")
	}
	emu, err := emulator.Start(&emulator.Options{SigningKeyBits: cfg.SigningKeyBits})
	if err != nil {
		return nil, err
	}
	defer emu.Close()
	tn := emu.Tenancy()
	consented := tn.Remotes[0].ID

	// What the requests carry: an assertion from the managed identity, and
	// a Graph token for the consented tenant.
	assertionTok, err := managedIdentityToken(ctx, emu.Client(), emu)
	if err != nil {
		return nil, fmt.Errorf("loadtest: fetching an assertion: %w", err)
	}
	form := url.Values{
		"client_assertion":      {assertionTok},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_id":             {tn.App.ClientID},
		"grant_type":            {"client_credentials"},
		"scope":                 {"https://graph.microsoft.com/.default"},
	}.Encode()
	tokenURL := emu.AuthorityHost() + "/" + consented + "/oauth2/v2.0/token"
	graphTok, err := accessToken(ctx, emu.Client(), tokenURL, form)
	if err != nil {
		return nil, fmt.Errorf("loadtest: fetching a Graph token: %w", err)
	}
	armForm := url.Values{
		"client_assertion":      {assertionTok},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_id":             {tn.App.ClientID},
		"grant_type":            {"client_credentials"},
		"scope":                 {"https://management.azure.com/.default"},
	}.Encode()
	armTok, err := accessToken(ctx, emu.Client(), tokenURL, armForm)
	if err != nil {
		return nil, fmt.Errorf("loadtest: fetching an ARM token: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(emu.CAPEM())

	type clientStats struct {
		hists   [nKinds]hist
		status  [nKinds]map[int]uint64
		errs    [nKinds]uint64
		first   [nKinds]string
		fivexxx [nKinds]uint64
	}
	res := &EmulatorResult{Config: cfg}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total clientStats
	)
	for i := range nKinds {
		total.status[i] = map[int]uint64{}
	}
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	runCtx, cancel := context.WithDeadline(ctx, deadline.Add(2*time.Minute))
	defer cancel()

	stopSampling := make(chan struct{})
	sampled := make(chan []int64, 1)
	go func() {
		var rss []int64
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				rss = append(rss, rssBytes())
			case <-stopSampling:
				sampled <- rss
				return
			}
		}
	}()

	for c := range cfg.Clients {
		wg.Go(func() {
			tr := &http.Transport{
				TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
				MaxIdleConnsPerHost: 1,
				IdleConnTimeout:     time.Minute,
			}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr, Timeout: time.Minute}
			var st clientStats
			for i := range nKinds {
				st.status[i] = map[int]uint64{}
			}
			for n := c; ; n++ {
				if !time.Now().Before(deadline) || runCtx.Err() != nil {
					break
				}
				k := n % nKinds
				var req *http.Request
				switch k {
				case 0:
					req, _ = http.NewRequestWithContext(runCtx, http.MethodGet, emu.AppServiceEndpoint()+"?api-version=2019-08-01&resource=api://AzureADTokenExchange", nil)
					req.Header.Set("X-IDENTITY-HEADER", emu.IdentityHeader())
				case 1:
					req, _ = http.NewRequestWithContext(runCtx, http.MethodPost, tokenURL, strings.NewReader(form))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				case 2:
					req, _ = http.NewRequestWithContext(runCtx, http.MethodGet, emu.GraphURL()+"/devices?$top=5", nil)
					req.Header.Set("Authorization", "Bearer "+graphTok)
				case 3:
					req, _ = http.NewRequestWithContext(runCtx, http.MethodGet, emu.ARMURL()+"/subscriptions?api-version=2022-12-01", nil)
					req.Header.Set("Authorization", "Bearer "+armTok)
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					st.hists[k].add(time.Since(t0))
					st.errs[k]++
					if st.first[k] == "" {
						st.first[k] = leak.Clip(err.Error(), 300, assertionTok, graphTok, armTok, emu.IdentityHeader())
					}
					continue
				}
				_, _ = bodylimit.Read(resp.Body, 1<<20)
				resp.Body.Close()
				st.hists[k].add(time.Since(t0))
				st.status[k][resp.StatusCode]++
				if resp.StatusCode >= 500 {
					st.fivexxx[k]++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for i := range nKinds {
				total.hists[i].merge(&st.hists[i])
				for s, n := range st.status[i] {
					total.status[i][s] += n
				}
				total.errs[i] += st.errs[i]
				total.fivexxx[i] += st.fivexxx[i]
				if total.first[i] == "" {
					total.first[i] = st.first[i]
				}
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	close(stopSampling)
	res.RSS = <-sampled
	for i, name := range kinds {
		kr := KindResult{Kind: name, Status: total.status[i], Errors: total.errs[i], FirstError: total.first[i],
			Latency: total.hists[i].latency(), Unexpected5: total.fivexxx[i]}
		res.Requests += kr.Latency.Count
		res.Kinds = append(res.Kinds, kr)
	}
	return res, nil
}

// managedIdentityToken fetches an assertion from the emulator's App Service
// endpoint.
func managedIdentityToken(ctx context.Context, hc *http.Client, emu *emulator.Emulator) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, emu.AppServiceEndpoint()+"?api-version=2019-08-01&resource="+url.QueryEscape(fakeidp.TokenExchangeAudience), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-IDENTITY-HEADER", emu.IdentityHeader())
	return tokenFrom(hc, req)
}

// accessToken posts a client-credentials form.
func accessToken(ctx context.Context, hc *http.Client, tokenURL, form string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return tokenFrom(hc, req)
}

func tokenFrom(hc *http.Client, req *http.Request) (string, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	b, err := bodylimit.Read(resp.Body, 1<<20)
	if err == nil {
		err = json.Unmarshal(b, &body)
	}
	if err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("status %d, %v", resp.StatusCode, err)
	}
	return body.AccessToken, nil
}
