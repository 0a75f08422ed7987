package flags

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var decodeSeeds = []string{
	`{"enabled":true,"rolloutPercent":50,"allowlist":[]}`,
	`{"enabled": true, "rolloutPercent": 25, "allowlist": ["12345"]}`,
	` { "enabled" : false ,"rolloutPercent":0.5,"denylist":["a","b"] } `,
	`{}`, `{"enabled":null,"rolloutPercent":null,"allowlist":null}`,
	`{"enabled":true,"enabled":false}`, `{"allowlist":["a"],"allowlist":["b","c"]}`,
	`{"rolloutPercent":-0}`, `{"rolloutPercent":1e2}`, `{"rolloutPercent":1E-2}`, `{"rolloutPercent":1e400}`,
	`{"rolloutPercent":01}`, `{"rolloutPercent":1.}`, `{"rolloutPercent":.5}`, `{"rolloutPercent":+1}`,
	`{"Enabled":true}`, `{"variants":[{"name":"a","weight":1}]}`, `{"other":1}`,
	`{"allowlist":["caf\u00e9"]}`, `{"allowlist":["café"]}`, `{"allowlist":["a\"b"]}`, `{"allowlist":[1]}`,
	`{"enabled":tru}`, `{"enabled":true,}`, `{"enabled":true}x`, `[]`, `null`, ``, `{"enabled":"true"}`,
	"{\"allowlist\":[\"a\x7f\"]}", "{\"allowlist\":[\"a\tb\"]}",
}

// TestDecodeMatchesEncodingJSON: on every seed, the Client's decoder
// (go-json) gives encoding/json's result and error, nil lists included.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecode(t, []byte(s))
	}
	var f Flag
	require.NoError(t, (codec{}).Unmarshal([]byte(`{"enabled":true,"rolloutPercent":50,"allowlist":[]}`), &f))
	assert.Equal(t, Flag{Enabled: true, RolloutPercent: 50, Allowlist: []string{}}, f)
}

func FuzzDecodeFlag(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDecode)
}

func checkDecode(t *testing.T, data []byte) {
	var want, got Flag
	werr := json.Unmarshal(data, &want)
	gerr := (codec{}).Unmarshal(data, &got)
	require.Equal(t, werr == nil, gerr == nil, "%q: encoding/json %v, codec %v", data, werr, gerr)
	if werr != nil {
		return
	}
	require.Equal(t, want, got, "%q", data)
	// nil and empty lists differ in what Get returns.
	require.Equal(t, want.Allowlist == nil, got.Allowlist == nil, "%q", data)
	require.Equal(t, want.Denylist == nil, got.Denylist == nil, "%q", data)
}
