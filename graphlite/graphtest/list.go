package graphtest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Paging limits of Graph's directory collections.
const (
	defaultTop = 100
	maxTop     = 999
)

// query is the parsed OData query of a device request.
type query struct {
	top      int
	sel      []string // nil = default properties
	filter   *filter
	count    bool
	start    int
	eventual bool
}

var supportedParams = map[string]bool{"$top": true, "$select": true, "$filter": true, "$count": true, "$skiptoken": true}

func (s *Server) parseQuery(r *http.Request, td *tenantData, tenant string) (query, error) {
	vals := r.URL.Query()
	q := query{top: defaultTop, eventual: strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual")}
	for k := range vals {
		if strings.HasPrefix(k, "$") && !supportedParams[k] {
			return q, &queryError{"Request_UnsupportedQuery", fmt.Sprintf("graphtest does not support the query option '%s'.", k)}
		}
	}
	if v := vals.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxTop {
			return q, &queryError{"Request_BadRequest", fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", v, maxTop)}
		}
		q.top = n
	}
	if v := vals.Get("$select"); v != "" {
		for _, name := range strings.Split(v, ",") {
			canon, ok := canonicalProperty(strings.TrimSpace(name))
			if !ok {
				return q, &queryError{"Request_BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.device'.", strings.TrimSpace(name))}
			}
			q.sel = append(q.sel, canon)
		}
	}
	switch v := vals.Get("$count"); strings.ToLower(v) {
	case "", "false":
	case "true":
		q.count = true
	default:
		return q, &queryError{"Request_BadRequest", fmt.Sprintf("Invalid value '%s' for $count.", v)}
	}
	// Counting and 'ne' are "advanced queries" on directory objects
	// (learn.microsoft.com/graph/aad-advanced-queries).
	if q.count && !q.eventual {
		return q, &queryError{"Request_UnsupportedQuery", "$count is not supported on this request without the header ConsistencyLevel: eventual. Refer to https://aka.ms/graph-docs/advanced-queries for more information"}
	}
	if v := vals.Get("$filter"); v != "" {
		f, err := parseFilter(v)
		if err != nil {
			return q, err
		}
		if f.advanced && !(q.eventual && q.count) {
			return q, &queryError{"Request_UnsupportedQuery", "Operator 'ne' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"}
		}
		q.filter = f
	}
	if v := vals.Get("$skiptoken"); v != "" {
		start, ok := decodeSkipToken(v, td, tenant)
		if !ok {
			return q, &queryError{"Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request."}
		}
		q.start = start
	}
	return q, nil
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, rec *Request, version string, td *tenantData) {
	defer td.rlock()()
	q, err := s.parseQuery(r, td, rec.Tenant)
	if err != nil {
		writeQueryError(s, w, r, err)
		return
	}
	n := td.len()
	var page []record
	next := -1
	for i := q.start; i < n; i++ {
		if td.gone(i) {
			continue
		}
		d := td.at(i)
		if !q.filter.match(d) {
			continue
		}
		if len(page) == q.top {
			next = i // look ahead, so that the last page has no nextLink
			break
		}
		page = append(page, d)
	}
	b := pageBuffers.Get().(*bytes.Buffer)
	defer func() { b.Reset(); pageBuffers.Put(b) }()
	b.WriteString(`{"@odata.context":`)
	writeString(b, s.URL()+"/"+version+"/$metadata#devices"+selectSuffix(q.sel))
	if q.count {
		total := 0
		for i := 0; i < n; i++ {
			if !td.gone(i) && q.filter.match(td.at(i)) {
				total++
			}
		}
		fmt.Fprintf(b, `,"@odata.count":%d`, total)
	}
	if next >= 0 {
		rec.NextLink = s.URL() + r.URL.Path + "?" + withSkipToken(r.URL.RawQuery, encodeSkipToken(next, td))
		b.WriteString(`,"@odata.nextLink":`)
		writeString(b, rec.NextLink)
	}
	b.WriteString(`,"value":[`)
	for i, d := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		writeRecord(b, d, q.sel)
	}
	b.WriteString("]}")
	writeJSON(w, b)
}

func (s *Server) countDevices(w http.ResponseWriter, r *http.Request, td *tenantData) {
	if !strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual") {
		s.writeError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery", "Count is not supported on this request without the header ConsistencyLevel: eventual. Refer to https://aka.ms/graph-docs/advanced-queries for more information")
		return
	}
	var f *filter
	if v := r.URL.Query().Get("$filter"); v != "" {
		var err error
		if f, err = parseFilter(v); err != nil {
			writeQueryError(s, w, r, err)
			return
		}
	}
	defer td.rlock()()
	total := 0
	for i := 0; i < td.len(); i++ {
		if !td.gone(i) && f.match(td.at(i)) {
			total++
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, total)
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request, version string, td *tenantData, id string) {
	defer td.rlock()()
	i, ok := td.find(id)
	if !ok {
		s.writeError(w, r, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
		return
	}
	q, err := s.parseQuery(r, td, td.tenant)
	if err != nil {
		writeQueryError(s, w, r, err)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"@odata.context":`)
	writeString(&b, s.URL()+"/"+version+"/$metadata#devices"+selectSuffix(q.sel)+"/$entity")
	obj := bytes.Buffer{}
	writeRecord(&obj, td.at(i), q.sel)
	if obj.Len() > 2 {
		b.WriteByte(',')
	}
	b.Write(obj.Bytes()[1:]) // the object's fields after the context
	writeJSON(w, &b)
}

func selectSuffix(sel []string) string {
	if sel == nil {
		return ""
	}
	return "(" + strings.Join(sel, ",") + ")"
}

// writeRecord writes one device object with the selected (or default) properties.
func writeRecord(b *bytes.Buffer, d record, sel []string) {
	props := sel
	if props == nil {
		props = d.props()
	}
	b.WriteByte('{')
	for i, p := range props {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, p)
		b.WriteByte(':')
		v, _ := d.get(p)
		switch v := v.(type) {
		case string:
			writeString(b, v)
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case nil:
			b.WriteString("null")
		default:
			enc, err := json.Marshal(v)
			if err != nil {
				enc = []byte("null")
			}
			b.Write(enc)
		}
	}
	b.WriteByte('}')
}

// writeString writes s as a JSON string; plain ASCII (the common case) is
// copied as is, anything else goes through encoding/json for exact escaping
// (without HTML escaping: Graph writes the & of a nextLink as is).
func writeString(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			enc := json.NewEncoder(b)
			enc.SetEscapeHTML(false)
			enc.Encode(s)
			b.Truncate(b.Len() - 1) // the newline Encode adds
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// pageBuffers recycles the response buffers of list pages (up to about 1 MB
// for 999 devices), so that a load run does not regrow one per page.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// A skip token is opaque to clients; inside it holds the position to resume
// at and a check of the tenant, so that a token of one tenant fails in another.
func encodeSkipToken(pos int, td *tenantData) string {
	var raw [12]byte
	copy(raw[:4], td.seed[:4])
	binary.BigEndian.PutUint64(raw[4:], uint64(pos))
	return "RFNwdAoA" + base64.RawURLEncoding.EncodeToString(raw[:])
}

func decodeSkipToken(tok string, td *tenantData, tenant string) (int, bool) {
	body, ok := strings.CutPrefix(tok, "RFNwdAoA")
	if !ok || td == nil || td.tenant != tenant {
		return 0, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) != 12 || !bytes.Equal(raw[:4], td.seed[:4]) {
		return 0, false
	}
	pos := binary.BigEndian.Uint64(raw[4:])
	if pos > uint64(td.len()) {
		return 0, false
	}
	return int(pos), true
}

// withSkipToken keeps the client's query as it was written (Graph echoes it,
// $ signs and all) and replaces $skiptoken.
func withSkipToken(rawQuery, tok string) string {
	var parts []string
	for _, kv := range strings.Split(rawQuery, "&") {
		if kv == "" {
			continue
		}
		k, _, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == "$skiptoken" {
			continue
		}
		parts = append(parts, kv)
	}
	return strings.Join(append(parts, "$skiptoken="+tok), "&")
}
