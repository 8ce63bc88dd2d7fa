package graphlite_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

func deltaRound(t *testing.T, c *graphlite.Client, link string, opts *graphlite.DevicesOptions) ([]graphlite.DeviceChange, string) {
	t.Helper()
	d := c.DevicesDelta(context.Background(), link, opts)
	var out []graphlite.DeviceChange
	for ch, err := range d.Changes() {
		if err != nil {
			t.Fatalf("delta round: %v", redact(err))
		}
		out = append(out, ch)
	}
	if d.DeltaLink() == "" {
		t.Fatal("a complete round left no delta link")
	}
	return out, d.DeltaLink()
}

func TestDevicesDelta(t *testing.T) {
	srv := startGraph(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}, Generated: map[string]int{tenantA: 250}})
	c := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), nil, nil)
	opts := &graphlite.DevicesOptions{Select: []string{"id", "displayName"}}

	first, link := deltaRound(t, c, "", opts)
	if len(first) != 254 {
		t.Fatalf("first round: %d devices, want 254", len(first))
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("first round: %d requests, want 3 pages of up to 100", n)
	}

	// Nothing changed: an empty round, one request.
	srv.ResetRequests()
	none, link2 := deltaRound(t, c, link, nil)
	if len(none) != 0 || len(srv.Requests()) != 1 {
		t.Errorf("round without changes: %d changes in %d requests, want 0 in 1", len(none), len(srv.Requests()))
	}

	for _, err := range []error{
		srv.UpdateDevice(tenantA, "d-1", map[string]any{"displayName": "Alice's new name"}),
		srv.UpdateDevice(tenantA, "d-1", map[string]any{"operatingSystem": "Linux"}), // twice: one change
		srv.RemoveDevice(tenantA, "d-2"),
		srv.AddDevice(tenantA, map[string]any{"id": "d-new", "displayName": "New", "operatingSystem": "iOS"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	srv.ResetRequests()
	changes, link3 := deltaRound(t, c, link2, nil)
	want := []graphlite.DeviceChange{
		{Device: graphlite.Device{ID: "d-1", DisplayName: "Alice's new name"}},
		{Device: graphlite.Device{ID: "d-2"}, Removed: &graphlite.Removed{Reason: "deleted"}},
		{Device: graphlite.Device{ID: "d-new", DisplayName: "New"}},
	}
	// The stored link keeps $select: operatingSystem is not sent.
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if len(srv.Requests()) != 1 || !strings.Contains(srv.Requests()[0].RawQuery, "$select=id,displayName") {
		t.Errorf("second round requests: %+v", srv.Requests())
	}
	if link3 == link2 {
		t.Error("the round after changes returned the same delta link")
	}
	// A listing no longer shows the removed device.
	n := 0
	for d, err := range c.Devices(context.Background(), &graphlite.DevicesOptions{Top: 999}) {
		if err != nil {
			t.Fatal(err)
		}
		if d.ID == "d-2" {
			t.Error("listing shows the removed device")
		}
		n++
	}
	if n != 254 {
		t.Errorf("listing: %d devices, want 254 (one removed, one added)", n)
	}
}

func TestDevicesDeltaRejectsListOptions(t *testing.T) {
	srv := startGraph(t, graphtest.Options{})
	c := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), nil, nil)
	for _, err := range c.DevicesDelta(context.Background(), "", &graphlite.DevicesOptions{Top: 5}).Changes() {
		if err == nil || !strings.Contains(err.Error(), "Select only") {
			t.Errorf("delta with Top: %v, want an error", err)
		}
	}
	if len(srv.Requests()) != 0 {
		t.Error("a refused delta query sent a request")
	}
}

// restart starts a Graph on addr (the address of one that was closed).
func restartGraph(t *testing.T, addr string, opts graphtest.Options) *graphtest.Server {
	t.Helper()
	opts.Addr = addr
	return startGraph(t, opts)
}

func TestDeltaLinkAcrossRestart(t *testing.T) {
	for _, survive := range []bool{false, true} {
		t.Run(map[bool]string{false: "links do not survive", true: "links survive"}[survive], func(t *testing.T) {
			opts := graphtest.Options{Generated: map[string]int{tenantA: 5}, DeltaLinksSurviveRestart: survive}
			srv := startGraph(t, opts)
			_, link := deltaRound(t, newClient(t, srv, newCredential(tenantA, "Device.Read.All"), nil, nil), "", nil)
			addr := strings.TrimPrefix(srv.URL(), "https://")
			srv.Close()
			if _, _, err := net.SplitHostPort(addr); err != nil {
				t.Fatal(err)
			}
			srv2 := restartGraph(t, addr, opts)
			c2 := newClient(t, srv2, newCredential(tenantA, "Device.Read.All"), nil, nil)
			d := c2.DevicesDelta(context.Background(), link, nil)
			var got []graphlite.DeviceChange
			var err error
			for ch, e := range d.Changes() {
				if e != nil {
					err = e
					break
				}
				got = append(got, ch)
			}
			var ge *graphlite.Error
			switch {
			case survive && (err != nil || len(got) != 0 || d.DeltaLink() == ""):
				t.Errorf("after a restart: %d changes, link %v, err %v; want none and a new link", len(got), d.DeltaLink() != "", redact(err))
			case !survive && (!errors.As(err, &ge) || ge.StatusCode != http.StatusGone || d.DeltaLink() != ""):
				t.Errorf("after a restart: err %v, want *Error 410 and no link", redact(err))
			}
		})
	}
}

// fakeClock is a clock that a throttle wait advances, so that the fake
// Graph's windows pass without sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
	ds  []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) wait(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ds = append(c.ds, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func TestBatchRetriesThrottledItems(t *testing.T) {
	// At the start of a 10 s window (the test tokens are issued at the real
	// time, which the fake Graph checks on this clock, with skew).
	clock := &fakeClock{now: time.Now().Truncate(10 * time.Second)}
	srv := startGraph(t, graphtest.Options{
		Devices: map[string][]map[string]any{tenantA: scenarioDevices()},
		Clock:   clock.Now,
		// Three units per 10 s in this tenant: a batch of four GETs has one
		// item over the limit.
		Limits: &graphtest.Limits{SmallTenantUnits: 3, TenantWindow: 10 * time.Second},
	})
	var mu sync.Mutex
	var seen []graphlite.Throttle
	c := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), nil, func(o *graphlite.Options) {
		o.Throttle.Wait = clock.wait
		o.Throttle.Clock = clock.Now
		o.Throttle.Observe = func(th graphlite.Throttle) { mu.Lock(); seen = append(seen, th); mu.Unlock() }
	})
	reqs := []graphlite.BatchRequest{{Path: "/devices/d-1"}, {Path: "/devices/d-2"}, {Path: "/devices/d-3"}, {Path: "/devices/d-4"}}
	res, err := c.Batch(context.Background(), reqs)
	if err != nil {
		t.Fatal(redact(err))
	}
	for i, r := range res {
		if r.Status != 200 || r.ID != reqs[i].ID && r.ID != string(rune('1'+i)) {
			t.Errorf("item %d: status %d id %q, want 200 after the retry", i, r.Status, r.ID)
		}
	}
	// The window has its whole 10 s left.
	if diff := cmp.Diff([]time.Duration{10 * time.Second}, clock.ds); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	var outer, inner int
	for _, r := range srv.Requests() {
		if r.InBatch {
			inner++
		} else {
			outer++
		}
	}
	if outer != 2 || inner != 5 {
		t.Errorf("%d batches with %d requests, want 2 with 5 (4, then the throttled one)", outer, inner)
	}
	if !slices.ContainsFunc(seen, func(th graphlite.Throttle) bool {
		return th.Throttled() && th.Scope == graphlite.ScopeTenantApplication && th.LimitPercentage == 100
	}) {
		t.Errorf("Observe saw %+v, want the item's 429 at 100 %% of the tenant limit", seen)
	}
}

func TestBatchRetryStaysWithinTheDeadline(t *testing.T) {
	srv := startGraph(t, graphtest.Options{
		Devices: map[string][]map[string]any{tenantA: scenarioDevices()},
		Limits:  &graphtest.Limits{SmallTenantUnits: 1, TenantWindow: time.Hour},
	})
	w := &waits{}
	c := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), w, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := c.Batch(ctx, []graphlite.BatchRequest{{Path: "/devices/d-1"}, {Path: "/devices/d-2"}})
	if err != nil {
		t.Fatal(redact(err))
	}
	// One item fits the limit; the other's Retry-After (up to an hour,
	// capped at a minute) would end after the deadline: it is not retried.
	if res[0].Status == 429 {
		res[0], res[1] = res[1], res[0] // Graph serves a batch in any order
	}
	var ge *graphlite.Error
	if res[1].Status != 429 || !errors.As(res[1].Err(), &ge) || ge.Throttle.Scope != graphlite.ScopeTenantApplication || res[0].Status != 200 {
		t.Errorf("statuses %d, %d (err %v), want 200 and a throttled 429", res[0].Status, res[1].Status, redact(res[1].Err()))
	}
	if len(w.got()) != 0 {
		t.Errorf("waited %v past the deadline", w.got())
	}
}

func TestThrottleSignalAppWide(t *testing.T) {
	srv := startGraph(t, graphtest.Options{
		Generated: map[string]int{tenantA: 3, tenantB: 3},
		Limits:    &graphtest.Limits{AppUnits: 2, AppWindow: time.Hour},
	})
	var mu sync.Mutex
	var seen []graphlite.Throttle
	observe := func(o *graphlite.Options) {
		o.Throttle.MaxRetries = -1
		o.Throttle.Observe = func(th graphlite.Throttle) { mu.Lock(); seen = append(seen, th); mu.Unlock() }
	}
	a := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), nil, observe)
	b := newClient(t, srv, newCredential(tenantB, "Device.Read.All"), nil, observe)
	ctx := context.Background()
	if err := a.Get(ctx, "/devices", nil, nil); err != nil {
		t.Fatal(redact(err))
	}
	if err := b.Get(ctx, "/devices", nil, nil); err != nil {
		t.Fatal(redact(err))
	}
	// The application's two units are spent across both tenants.
	err := a.Get(ctx, "/devices", nil, nil)
	var ge *graphlite.Error
	if !errors.As(err, &ge) || ge.StatusCode != 429 {
		t.Fatalf("third request: %v, want 429", redact(err))
	}
	throttled, appWide, after := ge.Throttled()
	if !throttled || !appWide || after <= 0 {
		t.Errorf("Throttled() = %v, %v, %v; want an application-wide throttle with a wait", throttled, appWide, after)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0].ResourceUnits != 1 || seen[1].LimitPercentage != 100 || !seen[1].AppWide() {
		t.Errorf("observed %+v; want 3, the second at 100 %% of the application's limit", seen)
	}
}
