package fault

import "sync"

// Set holds the faults of one server in the order they were added and hands
// them to requests. The zero value is an empty Set. It is safe for concurrent
// use.
type Set struct {
	mu     sync.Mutex
	faults []*entry
}

type entry struct {
	f    Fault
	left int // requests it still applies to; -1: until Clear
}

// Add appends f. A request gets the first fault added that matches it.
func (s *Set) Add(f Fault) {
	left := f.Count
	if left <= 0 {
		left = -1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &entry{f: f, left: left})
	s.mu.Unlock()
}

// Take returns the first fault that matches a request to endpoint (the
// server's name for it, such as "token" or "graph") with this URL path, and
// uses it up once: a fault with Count n leaves the Set at its n-th request, a
// fault with Count 0 stays until Clear.
func (s *Set) Take(endpoint, path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.faults {
		if !e.f.matches(endpoint, path) {
			continue
		}
		if e.left > 0 {
			e.left--
			if e.left == 0 {
				// A fresh backing array: Take never writes into one that an
				// earlier append may share.
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return e.f, true
	}
	return Fault{}, false
}

// Clear removes every fault.
func (s *Set) Clear() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}
