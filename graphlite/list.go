package graphlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
)

// List iterates over a Graph collection: it GETs {BaseURL}/{path}?{query},
// yields the elements of "value", then follows @odata.nextLink verbatim (Graph
// says to treat it as opaque; it is never re-encoded) until there is none.
// It holds one page in memory at a time: a page is decoded element by element
// from the bounded response stream into a slice that is reused for the next.
//
// A failure is yielded once, as the last pair, with the zero T. Stopping the
// loop early stops the paging. Advanced queries need ConsistencyLevel:
// eventual on every page: see [WithEventualConsistency].
func List[T any](ctx context.Context, c *Client, path string, query url.Values) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		next, err := c.resolve(path, query)
		if err != nil {
			yield(zero, err)
			return
		}
		var page []T
		for next != "" {
			var link string
			page, link, err = getPage(ctx, c, next, page[:0])
			if err != nil {
				yield(zero, err)
				return
			}
			for _, v := range page {
				if !yield(v, nil) {
					return
				}
			}
			clear(page) // drop references, so that the previous page can be collected
			if link != "" {
				if link == next {
					yield(zero, errors.New("graphlite: @odata.nextLink points to the same page"))
					return
				}
				if _, err := c.resolve(link, nil); err != nil {
					yield(zero, err)
					return
				}
			}
			next = link
		}
	}
}

// getPage GETs one page and appends its elements to page.
func getPage[T any](ctx context.Context, c *Client, u string, page []T) ([]T, string, error) {
	resp, err := c.send(ctx, http.MethodGet, u, nil)
	if err != nil {
		return page, "", err
	}
	defer closeBody(resp.Body)
	page, next, err := decodePageMax(json.NewDecoder(c.readBody(resp.Body)), page, c.maxElements)
	if err != nil {
		return page, "", fmt.Errorf("graphlite: GET %s: decode page: %w", resp.Request.URL.Path, err)
	}
	return page, next, nil
}

// decodePage reads {"value":[...], "@odata.nextLink":"...", ...} in any key
// order, decoding the elements one by one, at most DefaultMaxPageElements.
func decodePage[T any](dec *json.Decoder, page []T) ([]T, string, error) {
	return decodePageMax(dec, page, DefaultMaxPageElements)
}

// decodePageMax is decodePage with at most limit elements: past it, the page
// fails before the next element is decoded, so a page of tiny elements costs
// at most limit values, not one per few bytes of the body.
func decodePageMax[T any](dec *json.Decoder, page []T, limit int) ([]T, string, error) {
	start := len(page)
	var next string
	if err := expectDelim(dec, '{'); err != nil {
		return page, "", err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return page, "", err
		}
		switch tok {
		case "value":
			if err := expectDelim(dec, '['); err != nil {
				return page, "", err
			}
			var zero T
			for dec.More() {
				if len(page)-start >= limit {
					return page, "", errTooManyElements(limit)
				}
				// Decode in place: a local T would escape to the heap per element.
				page = append(page, zero)
				if err := dec.Decode(&page[len(page)-1]); err != nil {
					return page[:len(page)-1], "", err
				}
			}
			if err := expectDelim(dec, ']'); err != nil {
				return page, "", err
			}
		case "@odata.nextLink":
			if err := dec.Decode(&next); err != nil {
				return page, "", err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return page, "", err
			}
		}
	}
	return page, next, expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q in the page, found %v", want, tok)
	}
	return nil
}
