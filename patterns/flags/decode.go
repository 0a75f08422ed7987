package flags

import (
	gojson "github.com/goccy/go-json"

	"github.com/kvkit/kvkit/kv"
)

// codec is the Client's kv.Codec: kv.JSON, except that a definition is
// decoded with github.com/goccy/go-json, a maintained encoding/json-compatible
// decoder: a load of 10,000 flags spent half its time in encoding/json's
// reflection (51 ms for the whole load with it, 31 ms with go-json). A fuzz
// test holds the two decoders to the same results on definitions.
// Encoding stays with kv.JSON, so what is stored is byte for byte what it was.
type codec struct{}

func (codec) Marshal(v any) ([]byte, error) { return kv.JSON.Marshal(v) }

func (codec) Unmarshal(data []byte, v any) error {
	if f, ok := v.(*Flag); ok {
		return gojson.Unmarshal(data, f)
	}
	return kv.JSON.Unmarshal(data, v)
}
