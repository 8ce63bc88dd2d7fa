package graphtest_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// A fake Graph that trusts one key (in real tests, fakeidp's KeysURL) and
// serves 250 generated devices in a tenant.
func ExampleNew() {
	key := testKeys()[0]
	jwks := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"k1","n":%q,"e":"AQAB"}]}`, base64.RawURLEncoding.EncodeToString(key.N.Bytes()))
	srv, err := graphtest.New(&graphtest.Options{
		JWKS:      []byte(jwks),
		Generated: map[string]int{tenantA: 250},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	token := sign(nil, "k1", key, claims(tenantA, time.Now(), "Device.Read.All"))
	req, _ := http.NewRequest("GET", srv.URL()+"/v1.0/devices/$count", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("ConsistencyLevel", "eventual")
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))

	for _, r := range srv.Requests() {
		fmt.Println(r.Method, r.Path, r.Status, r.Tenant, r.Header.Get("Authorization"))
	}
	// Output:
	// 200 250
	// GET /v1.0/devices/$count 200 aaaaaaaa-0000-4000-8000-00000000000a [redacted]
}

// Faults in the command-line form that fakemsi's --fault takes: three
// throttled requests, then a CAE claims challenge.
func ExampleParseFault() {
	for _, spec := range []string{"graph:429:retry-after=2:count=3", "graph:claims:count=1", "graph:503:colour=red"} {
		f, err := graphtest.ParseFault(spec)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(f.Endpoint, f.Status, f.RetryAfter, f.Count)
		// srv.AddFault(f)
	}
	// Output:
	// graph 429 2s 3
	// graph 401 0s 1
	// graphtest: fault "graph:503:colour=red": "colour=red": unknown item "colour" (items: a status such as 503, claims, reset, latency=D, retry-after=S, count=N, body=truncated|malformed|oversize, path=TEXT)
}
