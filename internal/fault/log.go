package fault

import (
	"slices"
	"strings"
	"sync"

	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// MaxRecords is how many requests a [Log] keeps: enough for any test, bounded
// so that a long load run against a fake does not grow its memory.
const MaxRecords = 10000

// MaxBytes is the byte budget of a [Log] whose records have a Size: the
// oldest records are dropped as soon as the records kept would cost more.
// With values clipped by [ClipValues] and [ClipText], a record of a
// typical request costs well under a kilobyte, so the budget holds thousands
// of them; a client that sends megabyte requests fills it with clipped
// records and no more.
const MaxBytes = 4 << 20

// Clipping bounds of a recorded request: what [ClipText] and [ClipValues]
// keep of the text a client sent.
const (
	// MaxTextBytes is the most kept of one text field (a path, a header or
	// form value).
	MaxTextBytes = 1024
	// MaxURLBytes is the most kept of a URL or query, which legitimately
	// carry long $filter expressions and skip tokens.
	MaxURLBytes = 8192
	// MaxKeys is the most keys kept of a header or form map, in sorted order.
	MaxKeys = 32
	// MaxValuesPerKey is the most values kept of one key.
	MaxValuesPerKey = 4
)

// Log is the bounded request log behind a fake's Requests and ResetRequests:
// it keeps the last [MaxRecords] records and, when Size is set, no more than
// [MaxBytes] of them, dropping the oldest first. The zero value is an empty
// Log bounded in records only. It is safe for concurrent use.
type Log[T any] struct {
	// Size estimates the memory a record holds, in bytes: its strings, maps
	// and slices (see [TextSize], [ValuesSize]). Set it before the first Add.
	Size func(*T) int

	mu    sync.Mutex
	recs  []T   // recs[head:] are the records kept, oldest first
	sizes []int // the Size of each record in recs
	head  int
	bytes int // the sum of sizes[head:]
}

// Add records r, dropping the oldest records while more than [MaxRecords]
// are kept or, with Size, while they cost more than [MaxBytes].
func (l *Log[T]) Add(r T) {
	n := 0
	if l.Size != nil {
		n = l.Size(&r)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	l.sizes = append(l.sizes, n)
	l.bytes += n
	var zero T
	for len(l.recs)-l.head > MaxRecords || l.bytes > MaxBytes {
		l.recs[l.head] = zero // let the collector have what it held
		l.bytes -= l.sizes[l.head]
		l.head++
	}
	if l.head > 0 && l.head >= len(l.recs)/2 {
		// Move the kept records to the front in one go once half of the
		// slice is dropped ones, so that Add stays O(1) amortized.
		k := copy(l.recs, l.recs[l.head:])
		clear(l.recs[k:])
		l.recs = l.recs[:k]
		l.sizes = l.sizes[:copy(l.sizes, l.sizes[l.head:])]
		l.head = 0
	}
}

// All returns a copy of the records kept, oldest first.
func (l *Log[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recs[l.head:])
}

// Bytes is what the records kept cost by Size (0 without a Size): never more
// than [MaxBytes].
func (l *Log[T]) Bytes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes
}

// Reset forgets every record.
func (l *Log[T]) Reset() {
	l.mu.Lock()
	l.recs, l.sizes, l.head, l.bytes = nil, nil, 0, 0
	l.mu.Unlock()
}

// ClipText makes text a client sent fit for a request record: redacted and
// stripped of control characters by leak.Clip, at most [MaxTextBytes] bytes.
// The result is always a copy: a short value parsed out of a large request
// (a form field, a path) shares its memory, and keeping it must not keep the
// request.
func ClipText(s string) string { return ClipTextN(s, MaxTextBytes) }

// ClipTextN is [ClipText] with a limit of its own, such as [MaxURLBytes].
func ClipTextN(s string, limit int) string {
	if len(s) <= limit && plain(s) {
		return strings.Clone(s)
	}
	if len(s) > limit+redactWindow {
		// Redacting a megabyte costs tens of milliseconds; only the start is
		// kept, and any JWT that begins there (they are a few kilobytes) still
		// ends inside the window, so it is still recognised and redacted.
		s = s[:limit+redactWindow]
	}
	return strings.Clone(leak.Clip(s, limit))
}

// redactWindow is how far past its limit ClipTextN lets leak.Clip look.
const redactWindow = 16 << 10

// plain reports whether s is printable ASCII without the text leak.Redact
// replaces (a JWT starts "eyJ"; IDENTITY_HEADER= and MSI_SECRET= assignments
// have a '='), so that ClipText can skip the regular expressions for the
// common case.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			return false
		}
		if c == 'e' && i+2 < len(s) && s[i+1] == 'y' && s[i+2] == 'J' {
			return false
		}
		if c == '=' {
			return false
		}
	}
	return true
}

// ClipValues copies a header or form map for a request record: at most
// [MaxKeys] keys (the first in sorted order; the rest are dropped), at most
// [MaxValuesPerKey] values each, keys and values through [ClipText], and the
// values of the keys secret reports replaced by "[redacted]". A nil map
// stays nil.
func ClipValues[M ~map[string][]string](m M, secret func(key string) bool) M {
	if m == nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) > MaxKeys {
		slices.Sort(keys)
		keys = keys[:MaxKeys]
	}
	out := make(M, len(keys))
	for _, k := range keys {
		vals := m[k]
		if len(vals) > MaxValuesPerKey {
			vals = vals[:MaxValuesPerKey]
		}
		c := make([]string, len(vals))
		for i, v := range vals {
			if secret != nil && secret(k) {
				c[i] = "[redacted]"
			} else {
				c[i] = ClipText(v)
			}
		}
		out[ClipText(k)] = c
	}
	return out
}

// Per-object overheads of the estimates of [TextSize] and [ValuesSize]: a
// string header, a slice header, a map entry with its bucket share.
const (
	stringOverhead = 16
	sliceOverhead  = 24
	mapEntryCost   = 48
)

// RecordOverhead is a fixed estimate of a record's own struct, for Size
// functions to add to the sizes of its strings and maps.
const RecordOverhead = 256

// TextSize estimates the bytes held by strings.
func TextSize(ss ...string) int {
	n := 0
	for _, s := range ss {
		n += stringOverhead + len(s)
	}
	return n
}

// ValuesSize estimates the bytes held by a header or form map.
func ValuesSize[M ~map[string][]string](m M) int {
	n := 0
	for k, vals := range m {
		n += mapEntryCost + sliceOverhead + TextSize(k) + TextSize(vals...)
	}
	return n
}
