package graphtest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// changes is the mutable part of a tenant's devices: what AddDevice,
// UpdateDevice and RemoveDevice did, and the log that delta rounds read.
type changes struct {
	mu        sync.RWMutex
	added     []map[string]any       // after the scenario's and the generated devices
	overrides map[int]map[string]any // position → changed properties
	removed   map[int]bool
	log       []int // positions, one per change; a delta token holds an offset into it
}

// AddDevice adds a device to tenant's directory, with Graph's property
// names; "id" is required and must be new. The tenant must be one the
// server was started with (in Options.Devices or Options.Generated). The
// next delta round reports it.
func (s *Server) AddDevice(tenant string, device map[string]any) error {
	td := s.data[strings.ToLower(tenant)]
	if td == nil {
		return fmt.Errorf("graphtest: AddDevice: unknown tenant %q", tenant)
	}
	id, _ := device["id"].(string)
	if id == "" {
		return errors.New("graphtest: AddDevice: the device needs an id")
	}
	td.mu.Lock()
	defer td.mu.Unlock()
	if _, ok := td.findLocked(id); ok {
		return fmt.Errorf("graphtest: AddDevice: a device with id %q exists", id)
	}
	d := make(map[string]any, len(device))
	for k, v := range device {
		d[k] = v
	}
	pos := len(td.devices) + td.generated + len(td.added)
	td.added = append(td.added, d)
	td.byID[strings.ToLower(id)] = pos
	td.log = append(td.log, pos)
	return nil
}

// UpdateDevice sets properties of tenant's device id (Graph's names; "id"
// cannot change). The next delta round reports the device.
func (s *Server) UpdateDevice(tenant, id string, props map[string]any) error {
	td := s.data[strings.ToLower(tenant)]
	if td == nil {
		return fmt.Errorf("graphtest: UpdateDevice: unknown tenant %q", tenant)
	}
	if _, ok := props["id"]; ok {
		return errors.New("graphtest: UpdateDevice: id cannot change")
	}
	td.mu.Lock()
	defer td.mu.Unlock()
	pos, ok := td.findLocked(id)
	if !ok {
		return fmt.Errorf("graphtest: UpdateDevice: no device %q in tenant %q", id, tenant)
	}
	if td.overrides == nil {
		td.overrides = map[int]map[string]any{}
	}
	o := td.overrides[pos]
	if o == nil {
		o = map[string]any{}
		td.overrides[pos] = o
	}
	for k, v := range props {
		o[k] = v
	}
	td.log = append(td.log, pos)
	return nil
}

// RemoveDevice deletes tenant's device id: listings no longer show it and
// the next delta round reports it with @removed.
func (s *Server) RemoveDevice(tenant, id string) error {
	td := s.data[strings.ToLower(tenant)]
	if td == nil {
		return fmt.Errorf("graphtest: RemoveDevice: unknown tenant %q", tenant)
	}
	td.mu.Lock()
	defer td.mu.Unlock()
	pos, ok := td.findLocked(id)
	if !ok {
		return fmt.Errorf("graphtest: RemoveDevice: no device %q in tenant %q", id, tenant)
	}
	if td.removed == nil {
		td.removed = map[int]bool{}
	}
	td.removed[pos] = true
	td.log = append(td.log, pos)
	return nil
}

// overlay is a device with changed properties.
type overlay struct {
	base record
	over map[string]any
}

func (o overlay) get(p string) (any, bool) {
	if v, ok := o.over[p]; ok {
		return v, true
	}
	return o.base.get(p)
}

func (o overlay) props() []string {
	m := mapRecord{}
	for _, p := range o.base.props() {
		m[p] = nil
	}
	for p := range o.over {
		m[p] = nil
	}
	return m.props()
}

// DeviceID is the object ID of tenant's i-th device (counting the
// Options.Devices, then the generated ones, then the added ones), so that a
// test can change a generated device it never listed; ok is false past the
// end.
func (s *Server) DeviceID(tenant string, i int) (id string, ok bool) {
	td := s.data[strings.ToLower(tenant)]
	defer td.rlock()()
	if i < 0 || i >= td.len() {
		return "", false
	}
	v, _ := td.at(i).get("id")
	id, ok = v.(string)
	return id, ok
}
