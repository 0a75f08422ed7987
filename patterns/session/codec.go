package session

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"sync"
)

// The record codec. A record is JSON:
//
//	{"data":<T>,"createdAt":<ms>,"expiresAt":<ms>,"idleTimeout":<ms>,"idleExpiresAt":<ms>,"persist":true}
//
// The envelope around the data is written and read by hand. The data (the
// user's T) is encoded by encoding/json, and decoded by a flatPlan when T
// is a flat struct (flat.go), else by a pooled json.Decoder. Whatever the
// hand-written readers do not recognise exactly (other field spellings,
// nulls, floats, escapes, invalid JSON) goes to json.Unmarshal, so the
// result is always what json.Unmarshal would give (FuzzDecodeRecord and
// FuzzDecodeRecordFlat check it).

// coder is a json.Decoder and a json.Encoder kept with their buffers, so
// that loads and saves reuse their state instead of allocating it.
type coder struct {
	r   bytes.Reader
	dec *json.Decoder
	w   bytes.Buffer
	enc *json.Encoder
}

var coders = sync.Pool{New: func() any {
	c := &coder{}
	c.dec = json.NewDecoder(&c.r)
	c.enc = json.NewEncoder(&c.w)
	c.enc.SetEscapeHTML(false) // as kv.JSON and a TypeScript Worker write
	return c
}}

// decodeRecord decodes data into r exactly as json.Unmarshal would. p is
// planFor(T), nil when T is not flat.
func decodeRecord[T any](data []byte, r *record[T], p *flatPlan) error {
	if decodeFast(data, r, p) {
		return nil
	}
	*r = record[T]{}
	return json.Unmarshal(data, r)
}

// encodeRecord encodes r as JSON, without HTML escaping.
func encodeRecord[T any](r *record[T]) ([]byte, error) {
	c := coders.Get().(*coder)
	c.w.Reset()
	if err := c.enc.Encode(&r.Data); err != nil {
		return nil, err // the encoder's state is unknown: drop it
	}
	data := bytes.TrimRight(c.w.Bytes(), "\n")
	out := make([]byte, 0, len(data)+128)
	out = append(out, `{"data":`...)
	out = append(out, data...)
	out = append(out, `,"createdAt":`...)
	out = strconv.AppendInt(out, r.CreatedAt, 10)
	out = append(out, `,"expiresAt":`...)
	out = strconv.AppendInt(out, r.ExpiresAt, 10)
	if r.IdleTimeout != 0 {
		out = append(out, `,"idleTimeout":`...)
		out = strconv.AppendInt(out, r.IdleTimeout, 10)
	}
	if r.IdleExpiresAt != 0 {
		out = append(out, `,"idleExpiresAt":`...)
		out = strconv.AppendInt(out, r.IdleExpiresAt, 10)
	}
	if r.Persist {
		out = append(out, `,"persist":true`...)
	}
	out = append(out, '}')
	if c.w.Cap() <= 64<<10 {
		coders.Put(c)
	}
	return out, nil
}

// decodeFast reads the records it recognises exactly and reports whether
// it did; r is then what json.Unmarshal would have produced. On false, r
// may be half-filled and data must go to json.Unmarshal.
func decodeFast[T any](data []byte, r *record[T], p *flatPlan) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		// "key"
		if i >= len(data) || data[i] != '"' {
			return false
		}
		end := i + 1
		for end < len(data) && data[end] != '"' && data[end] != '\\' && data[end] >= 0x20 && data[end] < 0x80 {
			end++
		}
		if end >= len(data) || data[end] != '"' {
			return false
		}
		key := data[i+1 : end]
		i = skipSpace(data, end+1)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipSpace(data, i+1)
		var ok bool
		switch string(key) {
		case "data":
			if p != nil {
				i, ok = p.decode(data, i, reflect.ValueOf(&r.Data).Elem())
			} else {
				i, ok = decodeData(data, i, &r.Data)
			}
		case "createdAt":
			i, ok = readInt(data, i, &r.CreatedAt)
		case "expiresAt":
			i, ok = readInt(data, i, &r.ExpiresAt)
		case "idleTimeout":
			i, ok = readInt(data, i, &r.IdleTimeout)
		case "idleExpiresAt":
			i, ok = readInt(data, i, &r.IdleExpiresAt)
		case "persist":
			i, ok = readBool(data, i, &r.Persist)
		}
		if !ok {
			return false
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
}

// decodeData decodes the JSON object or array at data[i:] into v and
// returns the index after it. Other values (null, strings, numbers) go the
// slow way, where json.Unmarshal's rules for them apply.
func decodeData[T any](data []byte, i int, v *T) (int, bool) {
	end := skipComposite(data, i)
	if end < 0 {
		return 0, false
	}
	c := coders.Get().(*coder)
	c.r.Reset(data[i:end])
	// The decoder's offset counts from its first input; what earlier
	// inputs left in its buffer is whitespace at most (see below).
	base := c.dec.InputOffset() + int64(c.dec.Buffered().(*bytes.Reader).Len())
	if err := c.dec.Decode(v); err != nil {
		return 0, false // the decoder's state is unknown: drop it
	}
	if c.dec.InputOffset()-base != int64(end-i) {
		return 0, false // the value was not all of data[i:end]: drop the decoder
	}
	c.r.Reset(nil)
	coders.Put(c)
	return end, true
}

// skipComposite returns the index after the object or array at data[i:],
// or -1. It only matches brackets outside strings; the decoder validates.
func skipComposite(data []byte, i int) int {
	if i >= len(data) || (data[i] != '{' && data[i] != '[') {
		return -1
	}
	depth := 0
	for ; i < len(data); i++ {
		switch data[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
			if i >= len(data) {
				return -1
			}
		}
	}
	return -1
}

// readInt reads a JSON integer that fits an int64 (no fraction, no
// exponent); anything else is left to json.Unmarshal.
func readInt(data []byte, i int, dst *int64) (int, bool) {
	start := i
	if i < len(data) && data[i] == '-' {
		i++
	}
	digits := i
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	if i == digits || (data[digits] == '0' && i-digits > 1) || i-digits > 18 {
		return 0, false
	}
	if i < len(data) && (data[i] == '.' || data[i] == 'e' || data[i] == 'E') {
		return 0, false
	}
	*dst = digits18(data[start:i])
	return i, true
}

// digits18 returns the value of an optional '-' and at most 18 decimal
// digits, which always fits an int64 (strconv.ParseInt, which allows for
// any input, cost a third of decoding a record).
func digits18(b []byte) int64 {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var n int64
	for _, c := range b {
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

func readBool(data []byte, i int, dst *bool) (int, bool) {
	switch {
	case bytes.HasPrefix(data[i:], []byte("true")):
		*dst = true
		return i + 4, true
	case bytes.HasPrefix(data[i:], []byte("false")):
		*dst = false
		return i + 5, true
	}
	return 0, false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}
