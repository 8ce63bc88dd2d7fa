package refresh

import (
	"context"
	"sync"
	"sync/atomic"
)

// Table caches one value per key (see the package doc). The zero Table is
// empty and ready; it must not be copied after first use. A key that holds
// a value (even an expired one) keeps its entry for the Table's life; a key
// whose last fetch failed and left no value is dropped at the next rebuild,
// so keys that only fail (a tenant that does not exist) cost a bounded
// number of entries, not one each for good.
//
// Lookups read an immutable index behind an atomic pointer, without a lock.
// The index is a slice scanned linearly while the Table holds at most
// smallTable keys, then a map. A new key is not copied into the index at
// once: it waits in a pending map, read under the Table's mutex, and the
// index is rebuilt when the pending keys, plus the lookups that had to take
// the mutex to find them, reach a quarter of the index. So a rebuild (O(n))
// happens once per O(n) insertions or locked lookups: inserting is O(1)
// amortised, and a key that stays in use leaves the locked path after a
// bounded number of lookups.
type Table[K comparable, V any] struct {
	Options Options
	bg      sync.WaitGroup
	idx     atomic.Pointer[index[K, V]]

	mu      sync.Mutex // guards pending and hits, and serialises rebuilds
	pending map[K]*entry[K, V]
	hits    int // lookups served from pending since the last rebuild
	copied  int // entries copied by rebuilds, for the test of their cost
}

// smallTable is how many keys are kept in a slice scanned linearly before
// the index becomes a map. Most users serve a handful of keys; comparing a
// few keys (string lengths first, and identical string pointers
// short-circuit) is cheaper than hashing two strings of about 40 bytes, which
// is a quarter of a warm call.
const smallTable = 8

// index is immutable once published. Exactly one of small and m is used.
type index[K comparable, V any] struct {
	small []*entry[K, V]
	m     map[K]*entry[K, V]
}

func (ix *index[K, V]) len() int { return len(ix.small) + len(ix.m) }

// Get returns key's cached value, or fetches one (see the package doc).
//
// The key and the value go by pointer: with a context and a Host, a key of
// two strings no longer fits in registers, and copying it and a value of a
// few words through the stack measured a quarter of a warm federated
// GetToken. Get does not keep key. The value is shared by every caller: read
// it, never modify it.
func (t *Table[K, V]) Get(ctx context.Context, h Host[K, V], key *K) (*V, error) {
	// This is entry.get's warm path, written out again on purpose: calling
	// entry.get after the lookup (it is too large to inline) measured 2.5 ns
	// more per warm call, +17% on BenchmarkTableWarm/keys=1 (p=0.003, 20
	// interleaved runs). Keep the two in step; TestWarmPathDoesNotAllocate
	// and the Table tests cover this copy.
	now := h.Now()
	e := t.lookup(key)
	if e != nil {
		if s := e.st.Load(); s != nil && now < s.lease.ExpiresAt {
			if now >= s.lease.RefreshAt {
				e.refreshAhead(h, &t.Options, &t.bg, s, now)
			}
			return &s.lease.Value, nil
		}
	} else {
		e = t.insert(*key)
	}
	return e.miss(ctx, h, &t.Options)
}

// Wait blocks until the background refreshes started so far have finished;
// each is bounded by [Options.RefreshBudget]. It is for tests and shutdown,
// and must not run concurrently with [Table.Get]: a Get past RefreshAt starts
// a refresh, and a [sync.WaitGroup] must not gain work while Wait waits for
// it to reach zero.
func (t *Table[K, V]) Wait() { t.bg.Wait() }

// len returns the number of keys in the Table, for tests.
func (t *Table[K, V]) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.pending)
	if ix := t.idx.Load(); ix != nil {
		n += ix.len()
	}
	return n
}

// lookup finds key in the index without a lock.
func (t *Table[K, V]) lookup(key *K) *entry[K, V] {
	ix := t.idx.Load()
	if ix == nil {
		return nil
	}
	if ix.m != nil {
		return ix.m[*key]
	}
	for _, e := range ix.small {
		if e.key == *key {
			return e
		}
	}
	return nil
}

// insert returns key's entry, creating it if it is new.
func (t *Table[K, V]) insert(key K) *entry[K, V] {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.lookup(&key); e != nil { // inserted and indexed meanwhile
		return e
	}
	ix := t.idx.Load()
	if ix == nil {
		ix = &index[K, V]{}
	}
	if e := t.pending[key]; e != nil {
		t.hits++
		t.maybeRebuild(ix)
		return e
	}
	e := &entry[K, V]{key: key}
	if ix.m == nil && len(ix.small) < smallTable && len(t.pending) == 0 {
		// Copying a few pointers is cheaper than a map, and the key is
		// lock-free at once.
		small := append(make([]*entry[K, V], 0, len(ix.small)+1), ix.small...)
		t.idx.Store(&index[K, V]{small: append(small, e)})
		return e
	}
	if t.pending == nil {
		t.pending = make(map[K]*entry[K, V])
	}
	t.pending[key] = e
	t.maybeRebuild(ix)
	return e
}

// maybeRebuild folds the pending keys into a new index once they, plus the
// locked lookups that found them, reach a quarter of ix (at least
// smallTable). Called with t.mu held.
func (t *Table[K, V]) maybeRebuild(ix *index[K, V]) {
	if len(t.pending)+t.hits < ix.len()/4+smallTable {
		return
	}
	m := make(map[K]*entry[K, V], ix.len()+len(t.pending))
	for _, e := range ix.small {
		if !e.droppable() {
			m[e.key] = e
		}
	}
	for k, e := range ix.m {
		if !e.droppable() {
			m[k] = e
		}
	}
	for k, e := range t.pending {
		if !e.droppable() {
			m[k] = e
		}
	}
	t.idx.Store(&index[K, V]{m: m})
	t.copied += len(m)
	t.pending, t.hits = nil, 0
}
