package graphtest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Kinds of position a delta token holds.
const (
	tokFull        = 1 // a page of a first round: every device
	tokDelta       = 2 // a delta link: changes since log offset "from"
	tokIncremental = 3 // a page of a later round: changes in log[from:to]
)

// deltaToken is the opaque state of $deltatoken and $skiptoken in delta
// queries: the server instance (or, when links survive restarts, the
// tenant), a kind, a log range and an offset into the round's devices.
type deltaToken struct {
	kind           byte
	from, to, skip uint64
}

func (s *Server) deltaKey(td *tenantData) []byte {
	if s.durableDelta {
		return td.seed[4:8]
	}
	return s.instance[:]
}

func (s *Server) encodeDelta(td *tenantData, t deltaToken) string {
	var raw [29]byte
	copy(raw[:4], s.deltaKey(td))
	raw[4] = t.kind
	binary.BigEndian.PutUint64(raw[5:], t.from)
	binary.BigEndian.PutUint64(raw[13:], t.to)
	binary.BigEndian.PutUint64(raw[21:], t.skip)
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func (s *Server) decodeDelta(td *tenantData, tok string) (deltaToken, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 29 || td == nil || !bytes.Equal(raw[:4], s.deltaKey(td)) {
		return deltaToken{}, false
	}
	return deltaToken{kind: raw[4], from: binary.BigEndian.Uint64(raw[5:]), to: binary.BigEndian.Uint64(raw[13:]), skip: binary.BigEndian.Uint64(raw[21:])}, true
}

func newInstance() (b [4]byte) {
	rand.Read(b[:])
	return b
}

// deltaDevices serves GET /devices/delta: a first round lists every device
// and ends with an @odata.deltaLink; a round from a delta link lists the
// devices added, changed or removed (@removed) since, once each, in their
// current state. Pages hold 100 entries, or what Prefer:
// odata.maxpagesize asks for (up to 999).
func (s *Server) deltaDevices(w http.ResponseWriter, r *http.Request, rec *Request, version string, td *tenantData) {
	defer td.rlock()()
	vals := r.URL.Query()
	for k := range vals {
		if strings.HasPrefix(k, "$") && k != "$select" && k != "$deltatoken" && k != "$skiptoken" {
			s.writeError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery", fmt.Sprintf("The query option '%s' is not supported with delta queries of devices.", k))
			return
		}
	}
	var sel []string
	if v := vals.Get("$select"); v != "" {
		for _, name := range strings.Split(v, ",") {
			canon, ok := canonicalProperty(strings.TrimSpace(name))
			if !ok {
				s.writeError(w, r, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.device'.", strings.TrimSpace(name)))
				return
			}
			sel = append(sel, canon)
		}
		if !slices.Contains(sel, "id") {
			sel = append([]string{"id"}, sel...) // delta entries always carry their id
		}
	}
	size := defaultTop
	if v, ok := strings.CutPrefix(strings.ReplaceAll(r.Header.Get("Prefer"), " ", ""), "odata.maxpagesize="); ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 1 {
			size = min(n, maxTop)
		}
	}
	var logLen int
	if td != nil {
		logLen = len(td.log)
	}
	// The round: its log range and where this page starts.
	t := deltaToken{kind: tokFull, to: uint64(logLen)}
	resync := func() {
		s.writeError(w, r, http.StatusGone, "resyncRequired", "The delta token is not valid for this directory's sync state; start a new round without it.")
	}
	switch dt, st := vals.Get("$deltatoken"), vals.Get("$skiptoken"); {
	case dt != "" && st != "":
		s.writeError(w, r, http.StatusBadRequest, "Request_BadRequest", "$deltatoken and $skiptoken cannot be combined.")
		return
	case dt != "":
		got, ok := s.decodeDelta(td, dt)
		if !ok || got.kind != tokDelta {
			resync()
			return
		}
		if got.from > uint64(logLen) {
			if !s.durableDelta {
				resync()
				return
			}
			// A link of an earlier run of a fake whose links survive
			// restarts: nothing changed in this run yet.
			got.from = uint64(logLen)
		}
		t = deltaToken{kind: tokIncremental, from: got.from, to: uint64(logLen)}
	case st != "":
		got, ok := s.decodeDelta(td, st)
		if !ok || (got.kind != tokFull && got.kind != tokIncremental) || got.to > uint64(logLen) || got.from > got.to {
			resync()
			return
		}
		t = got
	}
	// The positions of the round, in order.
	var positions []int
	if t.kind == tokFull {
		for i := 0; i < td.len(); i++ {
			if !td.gone(i) {
				positions = append(positions, i)
			}
		}
	} else {
		seen := map[int]bool{}
		for _, pos := range td.log[t.from:t.to] {
			if !seen[pos] {
				seen[pos] = true
				positions = append(positions, pos)
			}
		}
	}
	// The token came from the client: a skip past the end (or past what an
	// int holds) is the end, never a negative index.
	start := len(positions)
	if t.skip < uint64(len(positions)) {
		start = int(t.skip)
	}
	end := min(start+size, len(positions))
	b := pageBuffers.Get().(*bytes.Buffer)
	defer func() { b.Reset(); pageBuffers.Put(b) }()
	b.WriteString(`{"@odata.context":`)
	writeString(b, s.URL()+"/"+version+"/$metadata#devices"+selectSuffix(sel))
	base := s.URL() + "/" + version + "/devices/delta?"
	if v := vals.Get("$select"); v != "" {
		base += "$select=" + strings.Join(sel, ",") + "&"
	}
	if end < len(positions) {
		next := t
		next.skip = uint64(end)
		rec.NextLink = base + "$skiptoken=" + s.encodeDelta(td, next)
		b.WriteString(`,"@odata.nextLink":`)
		writeString(b, rec.NextLink)
	} else {
		b.WriteString(`,"@odata.deltaLink":`)
		writeString(b, base+"$deltatoken="+s.encodeDelta(td, deltaToken{kind: tokDelta, from: t.to}))
	}
	b.WriteString(`,"value":[`)
	for i, pos := range positions[start:end] {
		if i > 0 {
			b.WriteByte(',')
		}
		if td.gone(pos) {
			id, _ := td.at(pos).get("id")
			b.WriteString(`{"id":`)
			writeString(b, fmt.Sprint(id))
			b.WriteString(`,"@removed":{"reason":"deleted"}}`)
			continue
		}
		writeRecord(b, td.at(pos), sel)
	}
	b.WriteString("]}")
	writeJSON(w, b)
}
