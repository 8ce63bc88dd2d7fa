package emulator_test

import (
	"net/http"
	"testing"

	"github.com/tenantbridge/tenantbridge/emulator"
)

// TestGraphHTTP2: GraphHTTP2 reaches the fake Graph's listener. (GraphLimits
// is exercised by examples/inventory's TestSweepThrottledByTheAppBucket.)
func TestGraphHTTP2(t *testing.T) {
	emu, err := emulator.Start(&emulator.Options{GraphHTTP2: true})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	// No token: Graph answers 401, over HTTP/2.
	resp, err := emu.Client().Get(emu.GraphURL() + "/devices")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s %d, want HTTP/2 401", resp.Proto, resp.StatusCode)
	}
}
