package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tenantbridge/tenantbridge/fanout"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
)

// deviceFields are the properties read ($select): ten, the ones an
// inventory reports; fewer fields cost Graph fewer resource units than the
// default set and make each page smaller.
var deviceFields = []string{
	"id", "deviceId", "displayName", "operatingSystem", "operatingSystemVersion",
	"trustType", "accountEnabled", "isCompliant", "isManaged", "approximateLastSignInDateTime",
}

// tenantOutput is what one tenant's run produced: its rows, encoded, and
// what the summary needs.
type tenantOutput struct {
	rows    bytes.Buffer
	devices int
	removed int
	link    string // the new delta link, with -delta-state
}

// sweep reads every tenant of cfg and writes their devices to out as each
// tenant finishes.
func sweep(ctx context.Context, cfg config, out, stderr io.Writer, tr *transports) (*summary, error) {
	cred, err := credential(cfg, tr)
	if err != nil {
		return nil, err
	}
	// The workers read the links of the previous run (prev, never written
	// after this); the loop below records the new ones in next.
	prev, err := loadState(cfg.deltaState)
	if err != nil {
		return nil, err
	}
	next := maps.Clone(prev)
	enc := newEncoder(cfg.format)
	if cfg.format == "csv" {
		if _, err := out.Write(enc.header()); err != nil {
			return nil, err
		}
	}
	pacer := fanout.NewPacer()
	prog := newProgress(cfg.progress, stderr, len(cfg.tenants))
	sum := &summary{rows: make([]summaryRow, len(cfg.tenants)), began: time.Now()}

	read := func(ctx context.Context, tenant string) (*tenantOutput, error) {
		gopts := &graphlite.Options{BaseURL: cfg.graphURL}
		gopts.Transport = tr.graph
		// No waiting inside a tenant's slot: a throttled tenant fails at
		// once and the scheduler pauses it (or every tenant, when the limit
		// is the application's) and runs it again later.
		gopts.Throttle.MaxRetries = -1
		gopts.Throttle.Observe = func(t graphlite.Throttle) { pacer.Observe(t.LimitPercentage, t.AppWide()) }
		client, err := graphlite.New(cred.ForTenant(tenant), gopts)
		if err != nil {
			return nil, err
		}
		o := &tenantOutput{}
		if cfg.deltaState == "" {
			for d, err := range client.Devices(ctx, &graphlite.DevicesOptions{Select: deviceFields, Top: 999}) {
				if err != nil {
					return nil, err
				}
				enc.row(&o.rows, tenant, &d, false)
				o.devices++
			}
			return o, nil
		}
		delta := client.DevicesDelta(ctx, prev[tenant], &graphlite.DevicesOptions{Select: deviceFields})
		for ch, err := range delta.Changes() {
			if err != nil {
				return nil, err
			}
			enc.row(&o.rows, tenant, &ch.Device, ch.Removed != nil)
			if ch.Removed != nil {
				o.removed++
			} else {
				o.devices++
			}
		}
		o.link = delta.DeltaLink()
		return o, nil
	}

	opts := &fanout.StreamOptions{
		Parallelism:   cfg.parallelism,
		TenantTimeout: cfg.tenantTimeout,
		Pacer:         pacer,
		Progress:      prog.update,
	}
	var writeErr error
	for r := range fanout.Stream(ctx, cfg.tenants, opts, read) {
		row := summaryRow{tenant: r.Tenant, duration: r.Duration, attempts: r.Attempts, err: r.Err}
		if r.Err == nil {
			row.devices, row.removed = r.Value.devices, r.Value.removed
			if _, err := out.Write(r.Value.rows.Bytes()); err != nil && writeErr == nil {
				writeErr = err
			}
			if cfg.deltaState != "" && r.Value.link != "" {
				next[r.Tenant] = r.Value.link
			}
		}
		// A failed tenant keeps the link it had: its round did not end.
		prog.devices += row.devices
		sum.add(r.Index, row)
	}
	prog.done()
	sum.took = time.Since(sum.began)
	if writeErr != nil {
		return nil, fmt.Errorf("writing the devices: %w", writeErr)
	}
	if cfg.deltaState != "" {
		if err := saveState(cfg.deltaState, next); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

// credential is tr.cred, else one credential for the whole sweep from the
// environment: it caches a token per tenant and shares one managed-identity
// assertion between them.
func credential(cfg config, tr *transports) (*federated.Credential, error) {
	if tr.cred != nil {
		return tr.cred, nil
	}
	opts := &federated.Options{AdditionallyAllowedTenants: cfg.tenants}
	opts.Transport = tr.entra
	return federated.NewFromEnvironment(opts)
}

// encoder writes device rows in one format.
type encoder struct{ format string }

func newEncoder(format string) encoder { return encoder{format: format} }

var csvColumns = append([]string{"tenant"}, append(append([]string{}, deviceFields...), "removed")...)

func (e encoder) header() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(csvColumns)
	w.Flush()
	return b.Bytes()
}

// jsonRow is one JSON Lines row: the device's properties and its tenant.
type jsonRow struct {
	Tenant string `json:"tenant"`
	*graphlite.Device
	Removed bool `json:"removed,omitempty"`
}

func (e encoder) row(b *bytes.Buffer, tenant string, d *graphlite.Device, removed bool) {
	if e.format == "jsonl" {
		line, _ := json.Marshal(jsonRow{Tenant: tenant, Device: d, Removed: removed})
		b.Write(line)
		b.WriteByte('\n')
		return
	}
	w := csv.NewWriter(b)
	w.Write([]string{
		tenant, d.ID, d.DeviceID, d.DisplayName, d.OperatingSystem, d.OperatingSystemVersion, d.TrustType,
		boolText(d.AccountEnabled), boolText(d.IsCompliant), boolText(d.IsManaged), timeText(d.ApproximateLastSignInDateTime),
		strconv.FormatBool(removed),
	})
	w.Flush()
}

func boolText(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

func timeText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// loadState reads the delta links of a previous run; a missing file is the
// first run.
func loadState(path string) (map[string]string, error) {
	links := map[string]string{}
	if path == "" {
		return links, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return links, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &links); err != nil {
		return nil, fmt.Errorf("-delta-state %s: %w", path, err)
	}
	return links, nil
}

// saveState writes the links through a temporary file and a rename, so that
// an interrupted run leaves the previous state whole.
func saveState(path string, links map[string]string) error {
	b, err := json.MarshalIndent(links, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".inventory-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
