package fault

import (
	"github.com/tenantbridge/tenantbridge/internal/testwait"
	"sync"
	"testing"
)

func TestLogKeepsTheLastRecords(t *testing.T) {
	var l Log[int]
	for i := range 3*MaxRecords + 7 {
		l.Add(i)
	}
	got := l.All()
	if len(got) != MaxRecords || got[0] != 2*MaxRecords+7 || got[len(got)-1] != 3*MaxRecords+6 {
		t.Fatalf("All: %d records from %d to %d; want %d, the last ones", len(got), got[0], got[len(got)-1], MaxRecords)
	}
	got[0] = -1
	if l.All()[0] == -1 {
		t.Error("All returned the log's own slice, not a copy")
	}
	l.Reset()
	if n := len(l.All()); n != 0 {
		t.Errorf("after Reset: %d records", n)
	}
	l.Add(42)
	if got := l.All(); len(got) != 1 || got[0] != 42 {
		t.Errorf("after Reset and Add: %v", got)
	}
}

func TestLogConcurrent(t *testing.T) {
	var l Log[int]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				l.Add(g*1000 + i)
				if i%100 == 0 {
					_ = l.All()
				}
			}
		})
	}
	testwait.Wait(t, &wg, "every concurrent writer finishing")
	if n := len(l.All()); n != 4000 {
		t.Errorf("%d records, want 4000", n)
	}
}
