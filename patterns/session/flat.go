package session

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The data decoder for flat session types. Most session data is a struct
// of strings, numbers and booleans ({"id":"u1","role":"admin"}); decoding
// it through encoding/json's reflection cost about half of a session read.
// A flatPlan, built once per type, decodes such an object directly: it
// handles exactly what it recognises and gives up (returning false) on
// anything else: escapes or invalid UTF-8 in a string, a key that matches
// a field only case-insensitively, a value of another type, a number out
// of its field's range... The record then goes to json.Unmarshal, so the
// result is always what json.Unmarshal gives (FuzzDecodeRecordFlat checks
// it).

// flatPlan decodes a JSON object into a struct type whose fields it knows.
type flatPlan struct {
	fields []flatField
}

type flatField struct {
	name  string
	index int
	kind  reflect.Kind
	bits  int // of the number kinds
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func customDecoding(t reflect.Type) bool {
	return t.Implements(jsonUnmarshaler) || t.Implements(textUnmarshaler) ||
		reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)
}

// planFor returns the plan for t, or nil when t is not a struct whose
// encoding/json decoding the plan reproduces exactly: every exported field
// a string, bool or number kind without custom decoding or the ",string"
// option, no embedded fields, ASCII names unique under case folding.
func planFor(t reflect.Type) *flatPlan {
	if t.Kind() != reflect.Struct || customDecoding(t) {
		return nil
	}
	p := &flatPlan{}
	seen := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil // embedded fields promote theirs: json's rules, not ours
		}
		if !f.IsExported() {
			continue // json ignores it: a key of that name is unknown
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		for o := range strings.SplitSeq(opts, ",") {
			if o == "string" {
				return nil
			}
		}
		if name == "" {
			name = f.Name
		}
		if !plainName(name) || seen[strings.ToUpper(name)] {
			return nil
		}
		seen[strings.ToUpper(name)] = true
		ff := flatField{name: name, index: i, kind: f.Type.Kind()}
		switch ff.kind {
		case reflect.String, reflect.Bool:
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64:
			ff.bits = f.Type.Bits()
		default:
			return nil
		}
		if customDecoding(f.Type) {
			return nil
		}
		p.fields = append(p.fields, ff)
	}
	return p
}

// plainName reports whether a JSON field name is ASCII letters, digits,
// '_' and '-' only: encoding/json accepts it as written and folds it the
// ASCII way.
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

func (p *flatPlan) field(key []byte) (*flatField, bool) {
	for i := range p.fields {
		if p.fields[i].name == string(key) {
			return &p.fields[i], true
		}
	}
	for i := range p.fields {
		if strings.EqualFold(p.fields[i].name, string(key)) {
			return nil, false // json would fill this field: not our rules
		}
	}
	return nil, true // unknown: skipped
}

// decode decodes the JSON object at data[i:] into v (a struct of the
// plan's type) and returns the index after it, or false when it cannot
// decode the object exactly as encoding/json would (v may then be half
// filled).
func (p *flatPlan) decode(data []byte, i int, v reflect.Value) (int, bool) {
	if i >= len(data) || data[i] != '{' {
		return 0, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return 0, false
		}
		end := i + 1
		for end < len(data) && data[end] != '"' && data[end] != '\\' && data[end] >= 0x20 && data[end] < 0x80 {
			end++
		}
		if end >= len(data) || data[end] != '"' {
			return 0, false
		}
		key := data[i+1 : end]
		i = skipSpace(data, end+1)
		if i >= len(data) || data[i] != ':' {
			return 0, false
		}
		i = skipSpace(data, i+1)
		f, ok := p.field(key)
		if !ok {
			return 0, false
		}
		if f == nil {
			i = skipValue(data, i, 0)
		} else {
			i = f.set(data, i, v.Field(f.index))
		}
		if i < 0 {
			return 0, false
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return 0, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// set decodes the value at data[i:] into fv and returns the index after
// it, or -1.
func (f *flatField) set(data []byte, i int, fv reflect.Value) int {
	if i >= len(data) {
		return -1
	}
	if data[i] == 'n' {
		if hasLiteral(data, i, "null") {
			return i + 4 // null leaves the field as it was, as in json
		}
		return -1
	}
	switch f.kind {
	case reflect.String:
		s, end := readString(data, i)
		if end < 0 {
			return -1
		}
		fv.SetString(s)
		return end
	case reflect.Bool:
		switch {
		case hasLiteral(data, i, "true"):
			fv.SetBool(true)
			return i + 4
		case hasLiteral(data, i, "false"):
			fv.SetBool(false)
			return i + 5
		}
		return -1
	}
	end, integer := scanNumber(data, i)
	if end < 0 {
		return -1
	}
	num := data[i:end]
	switch f.kind {
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(string(num), f.bits)
		if err != nil {
			return -1
		}
		fv.SetFloat(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if !integer || num[0] == '-' {
			return -1
		}
		x, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil || fv.OverflowUint(x) {
			return -1
		}
		fv.SetUint(x)
	default:
		if !integer {
			return -1
		}
		var x int64
		if len(num) <= 18 {
			x = digits18(num)
		} else {
			var err error
			if x, err = strconv.ParseInt(string(num), 10, 64); err != nil {
				return -1
			}
		}
		if fv.OverflowInt(x) {
			return -1
		}
		fv.SetInt(x)
	}
	return end
}

func hasLiteral(data []byte, i int, lit string) bool {
	return len(data)-i >= len(lit) && string(data[i:i+len(lit)]) == lit
}

// readString reads the JSON string at data[i:] when it holds no escapes,
// no control characters and only valid UTF-8 (so that its bytes are the
// Go string), and returns it and the index after it, or -1.
func readString(data []byte, i int) (string, int) {
	if data[i] != '"' {
		return "", -1
	}
	ascii := true
	end := i + 1
	for ; end < len(data); end++ {
		c := data[end]
		if c == '"' {
			break
		}
		if c == '\\' || c < 0x20 {
			return "", -1
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if end >= len(data) {
		return "", -1
	}
	b := data[i+1 : end]
	if !ascii && !utf8.Valid(b) {
		return "", -1 // json replaces invalid bytes with U+FFFD
	}
	return string(b), end + 1
}

// scanNumber returns the index after the JSON number at data[i:] and
// whether it is an integer (no fraction, no exponent), or -1.
func scanNumber(data []byte, i int) (int, bool) {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return -1, false
	case data[i] == '0':
		i++
	case '1' <= data[i] && data[i] <= '9':
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
	default:
		return -1, false
	}
	integer := true
	if i < len(data) && data[i] == '.' {
		integer = false
		i++
		start := i
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
		if i == start {
			return -1, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		integer = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		start := i
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
		if i == start {
			return -1, false
		}
	}
	return i, integer
}

// skipValue returns the index after the JSON value at data[i:], checking
// its syntax as json.Unmarshal does, or -1 (also beyond a nesting depth
// that json.Unmarshal may handle differently).
func skipValue(data []byte, i, depth int) int {
	if i >= len(data) || depth > 64 {
		return -1
	}
	switch c := data[i]; {
	case c == '"':
		for i++; i < len(data); i++ {
			switch c := data[i]; {
			case c == '"':
				return i + 1
			case c < 0x20:
				return -1
			case c == '\\':
				i++
				if i >= len(data) {
					return -1
				}
				switch data[i] {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				case 'u':
					if len(data)-i < 5 {
						return -1
					}
					for _, h := range data[i+1 : i+5] {
						if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
							return -1
						}
					}
					i += 4
				default:
					return -1
				}
			}
		}
		return -1
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == closer {
			return i + 1
		}
		for {
			if c == '{' {
				if i >= len(data) || data[i] != '"' {
					return -1 // a key is a string
				}
				if i = skipValue(data, i, depth+1); i < 0 {
					return -1
				}
				if i = skipSpace(data, i); i >= len(data) || data[i] != ':' {
					return -1
				}
				i = skipSpace(data, i+1)
			}
			if i = skipValue(data, i, depth+1); i < 0 {
				return -1
			}
			if i = skipSpace(data, i); i >= len(data) {
				return -1
			}
			switch data[i] {
			case ',':
				i = skipSpace(data, i+1)
			case closer:
				return i + 1
			default:
				return -1
			}
		}
	case c == 't':
		if hasLiteral(data, i, "true") {
			return i + 4
		}
	case c == 'f':
		if hasLiteral(data, i, "false") {
			return i + 5
		}
	case c == 'n':
		if hasLiteral(data, i, "null") {
			return i + 4
		}
	default:
		end, _ := scanNumber(data, i)
		return end
	}
	return -1
}
