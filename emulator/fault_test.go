package emulator

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseFaultEveryEndpoint checks that the emulator's parser reads the
// specs of both servers (fakeidp's and graphtest's each refuse the other's)
// and names itself in its errors.
func TestParseFaultEveryEndpoint(t *testing.T) {
	for spec, want := range map[string]Fault{
		"token:429:count=3":  {Endpoint: "token", Status: 429, Count: 3},
		"openid:500":         {Endpoint: "openid", Status: 500},
		"keys:body=reset":    {Endpoint: "keys", Body: "reset"},
		"discovery:503":      {Endpoint: "discovery", Status: 503},
		"appservice:500":     {Endpoint: "appservice", Status: 500},
		"imds:410:count=2":   {Endpoint: "imds", Status: 410, Count: 2},
		"msi:reset":          {Endpoint: "msi", Body: "reset"},
		"graph:claims":       {Endpoint: "graph", Status: 401},
		"*:503":              {Status: 503},
		"graph:503:path=/$x": {Endpoint: "graph", Status: 503, Path: "/$x"},
	} {
		got, err := ParseFault(spec)
		if err != nil {
			t.Errorf("ParseFault(%q): %v", spec, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ParseFault(%q) (-want +got):\n%s", spec, diff)
		}
	}
	_, err := ParseFault("nowhere:500")
	if err == nil || !strings.HasPrefix(err.Error(), `emulator: fault "nowhere:500": unknown endpoint`) {
		t.Errorf("error %v, want the package prefix, the spec and the reason", err)
	}
}
