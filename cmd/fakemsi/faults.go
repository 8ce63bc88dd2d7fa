package main

import (
	"strings"

	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// faultSet is the faults of a run, split by the server that injects them:
// fakeidp (Entra and managed identity) or graphtest (Graph).
type faultSet struct {
	idp   []fakeidp.Fault
	graph []graphtest.Fault
}

// add parses one --fault or config spec. The endpoint, the part before the
// first colon, picks the parser: "graph" is graphtest's, the rest fakeidp's,
// so each server's own error messages (which name the bad item) reach the
// user.
func (fs *faultSet) add(spec string) error {
	if endpoint, _, _ := strings.Cut(spec, ":"); endpoint == graphtest.FaultEndpoint {
		f, err := graphtest.ParseFault(spec)
		if err != nil {
			return err
		}
		fs.graph = append(fs.graph, f)
		return nil
	}
	f, err := fakeidp.ParseFault(spec)
	if err != nil {
		return err
	}
	fs.idp = append(fs.idp, f)
	return nil
}

func (fs faultSet) len() int { return len(fs.idp) + len(fs.graph) }

// then returns fs followed by other, in order: config faults come first.
func (fs faultSet) then(other faultSet) faultSet {
	return faultSet{
		idp:   append(append([]fakeidp.Fault(nil), fs.idp...), other.idp...),
		graph: append(append([]graphtest.Fault(nil), fs.graph...), other.graph...),
	}
}
