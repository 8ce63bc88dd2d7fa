package graphlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
)

// DeviceChange is one entry of a device delta: a device that was added or
// changed (its properties, as far as $select asks), or one that left
// (Removed is set; only ID is meaningful then).
type DeviceChange struct {
	Device
	// Removed is Graph's @removed annotation: Reason "deleted" (gone for
	// good) or "changed" (out of the query's scope, e.g. soft-deleted).
	Removed *Removed `json:"@removed,omitempty"`
}

// Removed is the @removed annotation of a delta entry.
type Removed struct {
	Reason string `json:"reason"`
}

// Delta is one round of a delta query
// (learn.microsoft.com/graph/delta-query-overview): [Delta.Changes] pages
// through the changes since the delta link the round started from, and
// [Delta.DeltaLink] is then the link to store for the next round. A Delta
// is used once, by one goroutine.
type Delta[T any] struct {
	c     *Client
	ctx   context.Context
	start string
	err   error
	link  string
}

// DevicesDelta starts a round of GET /devices/delta. With deltaLink "" it is
// the first round: every device is a change, and the round ends with a
// delta link. With a stored link it yields the devices added, changed or
// removed since that link was issued. opts' Select is kept in the link;
// Filter, Top and Count do not apply to delta queries of devices and are an
// error.
//
// A link Graph no longer honours (expired, or from before a reset of the
// service's sync state) fails with an *[Error] of StatusCode 410: start a
// new first round with "" then.
func (c *Client) DevicesDelta(ctx context.Context, deltaLink string, opts *DevicesOptions) *Delta[DeviceChange] {
	d := &Delta[DeviceChange]{c: c, ctx: ctx}
	if deltaLink != "" {
		d.start, d.err = c.resolve(deltaLink, nil)
		return d
	}
	if opts != nil && (opts.Filter != "" || opts.Top != 0 || opts.Count) {
		d.err = errors.New("graphlite: a device delta query takes Select only (not Filter, Top or Count)")
		return d
	}
	d.start, d.err = c.resolve("/devices/delta", opts.query())
	return d
}

// Changes yields the changes page by page, following @odata.nextLink until
// a page carries @odata.deltaLink. A failure is yielded once, as the last
// pair; the round then has no new delta link, and the caller keeps the one
// it had. Stopping the loop early also leaves DeltaLink empty: the changes
// not yet read come again with the old link.
func (d *Delta[T]) Changes() iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if d.err != nil {
			yield(zero, d.err)
			return
		}
		next := d.start
		var page []T
		for next != "" {
			var p deltaPage[T]
			p.value = page[:0]
			if err := getDeltaPage(d.ctx, d.c, next, &p); err != nil {
				yield(zero, err)
				return
			}
			page = p.value
			for _, v := range page {
				if !yield(v, nil) {
					return
				}
			}
			clear(page)
			switch {
			case p.deltaLink != "":
				if _, err := d.c.resolve(p.deltaLink, nil); err != nil {
					yield(zero, err)
					return
				}
				d.link = p.deltaLink
				return
			case p.nextLink == "":
				yield(zero, errors.New("graphlite: the last page of a delta query has no @odata.deltaLink"))
				return
			case p.nextLink == next:
				yield(zero, errors.New("graphlite: @odata.nextLink points to the same page"))
				return
			}
			if _, err := d.c.resolve(p.nextLink, nil); err != nil {
				yield(zero, err)
				return
			}
			next = p.nextLink
		}
	}
}

// DeltaLink is the @odata.deltaLink of the round's last page, to store for
// the next round; "" until [Delta.Changes] has read every page.
func (d *Delta[T]) DeltaLink() string { return d.link }

type deltaPage[T any] struct {
	value     []T
	nextLink  string
	deltaLink string
}

func getDeltaPage[T any](ctx context.Context, c *Client, u string, p *deltaPage[T]) error {
	resp, err := c.send(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	defer closeBody(resp.Body)
	dec := json.NewDecoder(c.readBody(resp.Body))
	if err := decodeDeltaPage(dec, p); err != nil {
		return fmt.Errorf("graphlite: GET %s: decode page: %w", resp.Request.URL.Path, err)
	}
	return nil
}

// decodeDeltaPage reads a page like decodePage, and its @odata.deltaLink.
func decodeDeltaPage[T any](dec *json.Decoder, p *deltaPage[T]) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case "value":
			if err := expectDelim(dec, '['); err != nil {
				return err
			}
			var zero T
			for dec.More() {
				p.value = append(p.value, zero)
				if err := dec.Decode(&p.value[len(p.value)-1]); err != nil {
					p.value = p.value[:len(p.value)-1]
					return err
				}
			}
			if err := expectDelim(dec, ']'); err != nil {
				return err
			}
		case "@odata.nextLink":
			if err := dec.Decode(&p.nextLink); err != nil {
				return err
			}
		case "@odata.deltaLink":
			if err := dec.Decode(&p.deltaLink); err != nil {
				return err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
		}
	}
	return expectDelim(dec, '}')
}
