package testwait

import (
	"sync"
	"testing"
)

func TestReceive(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := Receive(t, ch, "the value"); got != 7 {
		t.Fatalf("Receive = %d, want 7", got)
	}
}

func TestWait(t *testing.T) {
	var wg sync.WaitGroup
	wg.Add(1)
	go wg.Done()
	Wait(t, &wg, "the goroutine")
}

func TestHold(t *testing.T) {
	ch := make(chan struct{})
	close(ch)
	if !Hold(ch) {
		t.Fatal("Hold on a closed channel = false, want true")
	}
}
