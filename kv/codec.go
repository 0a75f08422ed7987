package kv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Codec turns values into the bytes stored in KV and back. Marshal receives
// the value itself; Unmarshal receives a non-nil pointer to the destination.
// Implementations must be safe for concurrent use.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// Built-in codecs.
var (
	// JSON stores values as JSON, as a TypeScript Worker's json serializer
	// does (no HTML escaping, no trailing newline). It is the default.
	JSON Codec = jsonCodec{}
	// Text stores strings as-is and numbers and booleans as decimal text,
	// byte-identical to what a TypeScript Worker's text serializer
	// (String(value)) writes: 42, 0.1, 1e+21, 1.5e-7, NaN, Infinity.
	// It accepts string, []byte, bool, every integer and float type, and
	// types whose underlying type is one of those.
	Text Codec = textCodec{}
	// Bytes stores []byte (or string) values unchanged.
	Bytes Codec = bytesCodec{}
)

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

type bytesCodec struct{}

func (bytesCodec) Marshal(v any) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	}
	return nil, fmt.Errorf("bytes codec: cannot encode %T", v)
}

func (bytesCodec) Unmarshal(data []byte, v any) error {
	switch p := v.(type) {
	case *[]byte:
		*p = bytes.Clone(data)
		if *p == nil {
			*p = []byte{}
		}
		return nil
	case *string:
		*p = string(data)
		return nil
	}
	return fmt.Errorf("bytes codec: cannot decode into %T", v)
}

type textCodec struct{}

func (textCodec) Marshal(v any) ([]byte, error) {
	switch x := v.(type) { // fast paths without reflection
	case string:
		return []byte(x), nil
	case []byte:
		return x, nil
	case int:
		return strconv.AppendInt(nil, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(nil, x, 10), nil
	case float64:
		return []byte(FormatNumber(x)), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return []byte(rv.String()), nil
	case reflect.Bool:
		return strconv.AppendBool(nil, rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(nil, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(nil, rv.Uint(), 10), nil
	case reflect.Float32:
		return []byte(formatNumber(rv.Float(), 32)), nil
	case reflect.Float64:
		return []byte(FormatNumber(rv.Float())), nil
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return rv.Bytes(), nil
		}
	}
	return nil, fmt.Errorf("text codec: cannot encode %T", v)
}

func (textCodec) Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("text codec: cannot decode into %T", v)
	}
	el := rv.Elem()
	s := string(data)
	switch el.Kind() {
	case reflect.String:
		el.SetString(s)
		return nil
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("text codec: %q is not a boolean", s)
		}
		el.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, el.Type().Bits())
		if err != nil {
			// A Worker may have written a large integer in exponent form.
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil || f != math.Trunc(f) || el.OverflowInt(int64(f)) || math.Abs(f) > 1<<63 {
				return fmt.Errorf("text codec: %q is not an integer of type %s", s, el.Type())
			}
			n = int64(f)
		}
		el.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(s, 10, el.Type().Bits())
		if err != nil {
			return fmt.Errorf("text codec: %q is not an unsigned integer of type %s", s, el.Type())
		}
		el.SetUint(n)
		return nil
	case reflect.Float32, reflect.Float64:
		f, err := parseNumber(s, el.Type().Bits())
		if err != nil {
			return err
		}
		el.SetFloat(f)
		return nil
	case reflect.Slice:
		if el.Type().Elem().Kind() == reflect.Uint8 {
			el.SetBytes(bytes.Clone(data))
			return nil
		}
	}
	return fmt.Errorf("text codec: cannot decode into %T", v)
}

// parseNumber parses what JavaScript's String(number) writes, and plain
// decimal text. It refuses Go-only spellings such as "inf" or "0x10".
func parseNumber(s string, bits int) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	bad := s == "" || strings.ContainsAny(s, "xXpP_iInN")
	f, err := strconv.ParseFloat(s, bits)
	if bad || err != nil {
		return 0, fmt.Errorf("text codec: %q is not a number", s)
	}
	return f, nil
}

// FormatNumber formats f exactly as JavaScript's Number.prototype.toString
// (and so String(f)) does: the shortest digits that round-trip, in plain
// decimal for exponents from -7 to 20 and in exponent form ("1e+21",
// "1.5e-7") outside them; "NaN", "Infinity", "-Infinity"; -0 as "0".
func FormatNumber(f float64) string { return formatNumber(f, 64) }

func formatNumber(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	// Shortest round-trip digits d1.d2d3...e±x; value = 0.digits × 10^n.
	e := strconv.FormatFloat(f, 'e', -1, bits)
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k, n := len(digits), x+1
	var b strings.Builder
	b.WriteString(sign)
	switch {
	case k <= n && n <= 21:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", n-k))
	case 0 < n && n <= 21:
		b.WriteString(digits[:n])
		b.WriteByte('.')
		b.WriteString(digits[n:])
	case -6 < n && n <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -n))
		b.WriteString(digits)
	default:
		b.WriteByte(digits[0])
		if k > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('e')
		if n-1 >= 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.Itoa(n - 1))
	}
	return b.String()
}
