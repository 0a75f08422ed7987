package flags

import (
	"strconv"

	"github.com/kvkit/kvkit/kv"
)

// codec is the Client's kv.Codec: kv.JSON, except that definitions in the
// shape the recipe writes are decoded by hand (a load of 10,000 flags spent
// half its time in encoding/json's reflection). Anything the hand decoder
// does not recognise exactly (variants, other or differently cased fields,
// escapes, non-ASCII text, malformed JSON) goes to kv.JSON, and a fuzz test
// holds the two to the same results.
type codec struct{}

func (codec) Marshal(v any) ([]byte, error) { return kv.JSON.Marshal(v) }

func (codec) Unmarshal(data []byte, v any) error {
	if f, ok := v.(*Flag); ok {
		if g, ok := parseFlag(data); ok {
			*f = g
			return nil
		}
	}
	return kv.JSON.Unmarshal(data, v)
}

// parseFlag decodes data as encoding/json would into a zero Flag, or
// reports false when it is not sure to: then the caller must use
// encoding/json. It knows an object whose members are "enabled" (true,
// false, null), "rolloutPercent" (a number, null) and "allowlist" and
// "denylist" (null, or arrays of printable-ASCII strings without escapes).
func parseFlag(data []byte) (Flag, bool) {
	var f Flag
	p := parser{b: data}
	p.ws()
	if !p.eat('{') {
		return f, false
	}
	p.ws()
	if p.eat('}') {
		return f, p.end()
	}
	for {
		key, ok := p.str()
		if !ok {
			return f, false
		}
		p.ws()
		if !p.eat(':') {
			return f, false
		}
		p.ws()
		switch key {
		case "enabled":
			switch {
			case p.lit("true"):
				f.Enabled = true
			case p.lit("false"):
				f.Enabled = false
			case p.lit("null"): // leaves the field as it was
			default:
				return f, false
			}
		case "rolloutPercent":
			if !p.lit("null") {
				x, ok := p.num()
				if !ok {
					return f, false
				}
				f.RolloutPercent = x
			}
		case "allowlist", "denylist":
			list, ok := p.list()
			if !ok {
				return f, false
			}
			if key == "allowlist" {
				f.Allowlist = list
			} else {
				f.Denylist = list
			}
		default:
			return f, false
		}
		p.ws()
		if p.eat('}') {
			return f, p.end()
		}
		if !p.eat(',') {
			return f, false
		}
		p.ws()
	}
}

type parser struct {
	b []byte
	i int
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (p *parser) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// lit consumes the literal s (true, false, null).
func (p *parser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// str consumes a string of printable ASCII without escapes.
func (p *parser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", false
		}
		p.i++
	}
	return "", false
}

// num consumes a number in JSON's grammar that float64 holds.
func (p *parser) num() (float64, bool) {
	start := p.i
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.digit19():
		p.digits()
	default:
		return 0, false
	}
	if p.eat('.') {
		if p.digits() == 0 {
			return 0, false
		}
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if p.digits() == 0 {
			return 0, false
		}
	}
	x, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	return x, err == nil // out of range: encoding/json says how
}

func (p *parser) digit19() bool {
	if p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9' {
		p.i++
		return true
	}
	return false
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// list consumes null (nil) or an array of strings ([] is empty, not nil).
func (p *parser) list() ([]string, bool) {
	if p.lit("null") {
		return nil, true
	}
	if !p.eat('[') {
		return nil, false
	}
	list := []string{}
	p.ws()
	if p.eat(']') {
		return list, true
	}
	for {
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		list = append(list, s)
		p.ws()
		if p.eat(']') {
			return list, true
		}
		if !p.eat(',') {
			return nil, false
		}
		p.ws()
	}
}
