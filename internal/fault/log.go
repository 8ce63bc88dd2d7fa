package fault

import "sync"

// MaxRecords is how many requests a [Log] keeps: enough for any test, bounded
// so that a long load run against a fake does not grow its memory.
const MaxRecords = 10000

// Log is the bounded request log behind a fake's Requests and ResetRequests:
// it keeps the last [MaxRecords] records. The zero value is an empty Log. It
// is safe for concurrent use.
type Log[T any] struct {
	mu   sync.Mutex
	recs []T
}

// Add records r.
func (l *Log[T]) Add(r T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.recs) >= 2*MaxRecords {
		// Drop the older records in one move, so that Add stays O(1)
		// amortized; All still sees the last MaxRecords.
		l.recs = append(l.recs[:0], l.recs[len(l.recs)-MaxRecords:]...)
	}
	l.recs = append(l.recs, r)
}

// All returns a copy of the last [MaxRecords] records, oldest first.
func (l *Log[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	rs := l.recs
	if len(rs) > MaxRecords {
		rs = rs[len(rs)-MaxRecords:]
	}
	return append([]T(nil), rs...)
}

// Reset forgets every record.
func (l *Log[T]) Reset() {
	l.mu.Lock()
	l.recs = nil
	l.mu.Unlock()
}
