package session

import (
	"bytes"
	"encoding/json"
	"sync"
)

// decoder is a json.Decoder kept with its reader, so that a load reuses
// the decoder's state and scratch buffers instead of allocating them (it
// also scans the input once, where json.Unmarshal scans it twice).
type decoder struct {
	r   bytes.Reader
	dec *json.Decoder
}

var decoders = sync.Pool{New: func() any {
	d := &decoder{}
	d.dec = json.NewDecoder(&d.r)
	return d
}}

// decodeRecord decodes one JSON value from data into v, rejecting trailing
// data like json.Unmarshal does.
func decodeRecord(data []byte, v any) error {
	d := decoders.Get().(*decoder)
	d.r.Reset(data)
	// The offset counts from the decoder's first input; whatever earlier
	// inputs left in its buffer is whitespace (anything else is dropped
	// with the decoder below).
	base := d.dec.InputOffset() + int64(d.dec.Buffered().(*bytes.Reader).Len())
	if err := d.dec.Decode(v); err != nil {
		return err // the decoder's state is unknown: drop it
	}
	if end := d.dec.InputOffset() - base; end < 0 || end > int64(len(data)) || len(bytes.TrimSpace(data[end:])) != 0 {
		return json.Unmarshal(data, v) // trailing data: its error
	}
	d.r.Reset(nil)
	decoders.Put(d)
	return nil
}
