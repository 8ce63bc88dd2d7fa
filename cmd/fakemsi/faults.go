package main

import (
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
	"github.com/tenantbridge/tenantbridge/internal/fault"
)

// faultSet is the faults of a run, split by the server that injects them:
// fakeidp (Entra and managed identity) or graphtest (Graph). Both hold the
// one fault type; the split only says which server gets each.
type faultSet struct {
	idp   []fakeidp.Fault
	graph []graphtest.Fault
}

// add parses one --fault or config spec with the one spec parser, whose
// errors name the bad item and the fix, and files the fault by its endpoint.
func (fs *faultSet) add(spec string) error {
	f, err := fault.Parse(spec)
	if err != nil {
		return err
	}
	if f.Endpoint == fault.EndpointGraph {
		fs.graph = append(fs.graph, f)
	} else {
		// "*" (Endpoint "") is every Entra and managed-identity endpoint, as
		// docs/fakemsi.md says, not Graph.
		fs.idp = append(fs.idp, f)
	}
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
