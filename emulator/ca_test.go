package emulator

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"testing"

	"github.com/tenantbridge/tenantbridge/internal/localca"
)

// TestStartWithCA: with Options.CA every HTTPS listener's certificate chains
// to that CA, and the bundle holds it alone, so that trusting it once (in an
// OS store) is enough.
func TestStartWithCA(t *testing.T) {
	ca, err := localca.New("test local CA")
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, &Options{CA: &ca})
	if !bytes.Equal(e.CAPEM(), localca.PEM(ca)) {
		t.Error("CAPEM is not the CA given")
	}
	if data, err := os.ReadFile(e.CAFile()); err != nil || !bytes.Equal(data, localca.PEM(ca)) {
		t.Errorf("CA file does not hold the CA alone (%v)", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(localca.PEM(ca))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer c.CloseIdleConnections()
	for name, u := range map[string]string{
		"Entra": e.AuthorityHost() + "/common/discovery/instance",
		"Graph": e.GraphURL() + "/devices",
		"ARM":   e.ARMURL() + "/subscriptions",
	} {
		resp, err := c.Get(u)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		resp.Body.Close()
	}
}
