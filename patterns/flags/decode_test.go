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

// TestParseFlagMatchesEncodingJSON: on every input it accepts, the hand
// decoder gives encoding/json's result, and it accepts the recipe's shape.
func TestParseFlagMatchesEncodingJSON(t *testing.T) {
	for _, s := range decodeSeeds {
		checkParseFlag(t, []byte(s))
	}
	for _, s := range decodeSeeds[:5] {
		_, ok := parseFlag([]byte(s))
		assert.True(t, ok, "the recipe's shape is decoded by hand: %s", s)
	}
	f, ok := parseFlag([]byte(`{"enabled":true,"rolloutPercent":50,"allowlist":[]}`))
	require.True(t, ok)
	assert.Equal(t, Flag{Enabled: true, RolloutPercent: 50, Allowlist: []string{}}, f)
}

func FuzzParseFlag(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkParseFlag)
}

func checkParseFlag(t *testing.T, data []byte) {
	got, ok := parseFlag(data)
	if !ok {
		return
	}
	var want Flag
	err := json.Unmarshal(data, &want)
	require.NoError(t, err, "accepted what encoding/json rejects: %q", data)
	require.Equal(t, want, got, "%q", data)
	// nil and empty lists differ in what Get returns.
	require.Equal(t, want.Allowlist == nil, got.Allowlist == nil, "%q", data)
	require.Equal(t, want.Denylist == nil, got.Denylist == nil, "%q", data)
}
