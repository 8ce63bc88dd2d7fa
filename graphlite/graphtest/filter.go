package graphtest

import (
	"fmt"
	"strings"
)

// filterable are the device properties the fake's $filter accepts: the ones
// people filter devices on. Graph supports more; the fake answers others with
// Request_UnsupportedQuery so that a test notices.
var filterable = map[string]bool{
	"id": true, "displayName": true, "operatingSystem": true, "accountEnabled": true,
	"trustType": true, "deviceId": true, "isCompliant": true, "isManaged": true,
	"operatingSystemVersion": true, "profileType": true,
}

// filter is a parsed $filter: a conjunction of comparisons.
type filter struct {
	terms []term
	// advanced is true when the filter uses an operator that Graph serves only
	// as an "advanced query" (ne): ConsistencyLevel: eventual and $count=true.
	advanced bool
}

type term struct {
	prop   string
	op     string // eq, ne, startswith
	lit    any    // string, bool or nil
	litSet bool
}

// queryError is a 400 with a Graph error code.
type queryError struct{ code, message string }

func (e *queryError) Error() string { return e.message }

func badFilter(format string, args ...any) error {
	return &queryError{"BadRequest", "Invalid filter clause: " + fmt.Sprintf(format, args...)}
}

// parseFilter reads the subset: term (and term)*, where term is
// prop eq lit | prop ne lit | startswith(prop,'text') | ( term ), and lit is a
// quoted string (” escapes '), true, false or null.
func parseFilter(s string) (*filter, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	f := &filter{}
	for {
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		if t.op == "ne" {
			f.advanced = true
		}
		f.terms = append(f.terms, t)
		if p.peek() == "" {
			return f, nil
		}
		if !strings.EqualFold(p.peek(), "and") {
			if strings.EqualFold(p.peek(), "or") {
				return nil, &queryError{"Request_UnsupportedQuery", "graphtest supports 'and' but not 'or' in $filter."}
			}
			return nil, badFilter("syntax error at '%s'", p.peek())
		}
		p.next()
	}
}

type filterParser struct {
	toks []string
	pos  int
}

func (p *filterParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *filterParser) next() string { t := p.peek(); p.pos++; return t }

func (p *filterParser) expect(tok string) error {
	if got := p.next(); got != tok {
		return badFilter("expected '%s' but found '%s'", tok, got)
	}
	return nil
}

func (p *filterParser) property() (string, error) {
	name := p.next()
	canon, ok := canonicalProperty(name)
	if !ok {
		return "", &queryError{"Request_BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.device'.", name)}
	}
	if !filterable[canon] {
		return "", &queryError{"Request_UnsupportedQuery", fmt.Sprintf("Unsupported or invalid query filter clause specified for property '%s' of resource 'Device'.", canon)}
	}
	return canon, nil
}

func (p *filterParser) term() (term, error) {
	if p.peek() == "(" {
		p.next()
		t, err := p.term()
		if err != nil {
			return term{}, err
		}
		return t, p.expect(")")
	}
	if strings.EqualFold(p.peek(), "startswith") {
		p.next()
		if err := p.expect("("); err != nil {
			return term{}, err
		}
		prop, err := p.property()
		if err != nil {
			return term{}, err
		}
		if err := p.expect(","); err != nil {
			return term{}, err
		}
		lit, ok := literal(p.next())
		s, isStr := lit.(string)
		if !ok || !isStr {
			return term{}, badFilter("startswith needs a quoted string")
		}
		return term{prop: prop, op: "startswith", lit: s, litSet: true}, p.expect(")")
	}
	prop, err := p.property()
	if err != nil {
		return term{}, err
	}
	op := strings.ToLower(p.next())
	if op != "eq" && op != "ne" {
		if op == "gt" || op == "ge" || op == "lt" || op == "le" || op == "in" {
			return term{}, &queryError{"Request_UnsupportedQuery", fmt.Sprintf("graphtest does not support operator '%s'.", op)}
		}
		return term{}, badFilter("expected an operator after '%s'", prop)
	}
	lit, ok := literal(p.next())
	if !ok {
		return term{}, badFilter("expected a literal after '%s %s'", prop, op)
	}
	return term{prop: prop, op: op, lit: lit, litSet: true}, nil
}

// literal converts a token into a value: a quoted string, true, false or null.
func literal(tok string) (any, bool) {
	switch {
	case len(tok) >= 2 && tok[0] == '\'' && tok[len(tok)-1] == '\'':
		return strings.ReplaceAll(tok[1:len(tok)-1], "''", "'"), true
	case strings.EqualFold(tok, "true"):
		return true, true
	case strings.EqualFold(tok, "false"):
		return false, true
	case strings.EqualFold(tok, "null"):
		return nil, true
	}
	return nil, false
}

func lex(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			j := i + 1
			for {
				if j >= len(s) {
					return nil, badFilter("unterminated string literal")
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t(),'", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	if len(toks) == 0 {
		return nil, badFilter("empty filter")
	}
	return toks, nil
}

// match reports whether r satisfies every term. String comparisons ignore
// case, as Graph's directory queries do.
func (f *filter) match(r record) bool {
	if f == nil {
		return true
	}
	for _, t := range f.terms {
		v, _ := r.get(t.prop)
		var ok bool
		switch t.op {
		case "startswith":
			s, isStr := v.(string)
			ok = isStr && len(s) >= len(t.lit.(string)) && strings.EqualFold(s[:len(t.lit.(string))], t.lit.(string))
		case "eq":
			ok = equal(v, t.lit)
		case "ne":
			ok = !equal(v, t.lit)
		}
		if !ok {
			return false
		}
	}
	return true
}

func equal(v, lit any) bool {
	switch l := lit.(type) {
	case nil:
		return v == nil
	case string:
		s, ok := v.(string)
		return ok && strings.EqualFold(s, l)
	case bool:
		b, ok := v.(bool)
		return ok && b == l
	}
	return false
}
