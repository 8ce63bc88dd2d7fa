package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/fanout"
)

// progress shows a sweep's progress on stderr: a bar redrawn in place on a
// terminal, a plain line every tenth of the sweep (and on every
// application-wide pause) otherwise, nothing with -progress off. It is
// called on the goroutine that iterates the sweep only.
type progress struct {
	w       io.Writer
	mode    string // "bar", "lines", "off"
	total   int
	devices int
	last    fanout.Progress
	step    int // lines mode: print every step tenants
	printed int // lines mode: Done at the last line
	pauses  int
	drawn   bool
}

func newProgress(setting string, w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, step: max(1, total/10)}
	switch {
	case setting == "off":
		p.mode = "off"
	case setting == "on" || isTerminal(w):
		p.mode = "bar"
	default:
		p.mode = "lines"
	}
	return p
}

// isTerminal reports whether w is a character device (a terminal), without
// golang.org/x/term.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(s fanout.Progress) {
	p.last = s
	switch p.mode {
	case "bar":
		p.drawBar()
	case "lines":
		if s.Pauses > p.pauses {
			p.pauses = s.Pauses
			fmt.Fprintf(p.w, "inventory: Graph throttled the application: every tenant paused until %s\n", s.PausedUntil.Format(time.TimeOnly))
		}
		if s.Done-p.printed >= p.step || (s.Done == s.Total && s.Done != p.printed) {
			p.printed = s.Done
			fmt.Fprintf(p.w, "inventory: %s\n", p.text())
		}
	}
}

func (p *progress) text() string {
	s := p.last
	t := fmt.Sprintf("%d/%d tenants, %d devices, %d failed", s.Done, p.total, p.devices, s.Failed)
	if s.Retries > 0 {
		t += fmt.Sprintf(", %d throttled (%d app-wide pauses)", s.Retries, s.Pauses)
	}
	if !s.PausedUntil.IsZero() {
		t += ", paused"
	}
	return t
}

const barWidth = 30

func (p *progress) drawBar() {
	n := 0
	if p.total > 0 {
		n = p.last.Done * barWidth / p.total
	}
	// \r and erase-line redraw the bar in place.
	fmt.Fprintf(p.w, "\r\x1b[K[%s%s] %s", strings.Repeat("#", n), strings.Repeat(".", barWidth-n), p.text())
	p.drawn = true
}

// done ends the bar's line.
func (p *progress) done() {
	if p.mode == "bar" && p.drawn {
		fmt.Fprintln(p.w)
	}
}
