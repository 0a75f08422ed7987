package session

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type codecUser struct {
	ID    string   `json:"id"`
	Count int      `json:"count"`
	Tags  []string `json:"tags,omitempty"`
}

var codecSeeds = []string{
	`{"data":{"id":"a","count":1},"createdAt":1,"expiresAt":5}`,
	"{\"data\":{\"id\":\"b\"}}  \n\t",
	` { "data" : { "id" : "c\"}{[" , "tags" : ["x]", "{"] } , "expiresAt" : -7 , "persist" : true } `,
	`{"data":{"id":"d"}}}`,
	`{"data":{"id":"e"}} {}`,
	`{"data":`,
	`not json`,
	``,
	`{}`,
	`{"data":null,"expiresAt":3}`,
	`{"data":{"id":"f"},"ExpiresAt":9}`,
	`{"data":{"id":"g"},"expiresAt":1e3}`,
	`{"data":{"id":"h"},"expiresAt":01}`,
	`{"data":{"id":"i"},"expiresAt":99999999999999999999}`,
	`{"data":{"id":"j"},"other":{"x":1},"expiresAt":2}`,
	`{"data":{"id":"k","count":"x"},"expiresAt":2}`,
	`{"data":{"id":"l"},"data":{"count":2}}`,
	`{"data":{"id":"m"},"persist":truex}`,
	`{"data":[1],"expiresAt":2}`,
	`{"d\u0061ta":{"id":"n"}}`,
	`{"data":{"id":"o"},"idleTimeout":60000,"idleExpiresAt":123,"persist":false}`,
}

// checkDecode asserts that decodeRecord agrees with json.Unmarshal.
func checkDecode(t *testing.T, in string) {
	var got, want record[codecUser]
	err := decodeRecord([]byte(in), &got)
	wantErr := json.Unmarshal([]byte(in), &want)
	require.Equal(t, wantErr == nil, err == nil, "%q: %v / %v", in, err, wantErr)
	if wantErr == nil {
		require.Equal(t, want, got, in)
	}
}

func TestDecodeRecordMatchesUnmarshal(t *testing.T) {
	for range 3 { // several rounds, so pooled decoders see every order
		for _, in := range codecSeeds {
			checkDecode(t, in)
		}
	}
	var r record[codecUser]
	require.True(t, decodeFast([]byte(codecSeeds[0]), &r), "the common form takes the fast path")
	require.True(t, decodeFast([]byte(codecSeeds[2]), &r))
}

func FuzzDecodeRecord(f *testing.F) {
	for _, s := range codecSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) { checkDecode(t, in) })
}

func TestEncodeRecordRoundTrip(t *testing.T) {
	for _, r := range []record[codecUser]{
		{},
		{Data: codecUser{ID: "<a&b>", Count: -3, Tags: []string{"x"}}, CreatedAt: 1, ExpiresAt: 2, IdleTimeout: 3, IdleExpiresAt: 4, Persist: true},
	} {
		b, err := encodeRecord(&r)
		require.NoError(t, err)
		std, err := json.Marshal(&r)
		require.NoError(t, err)
		assert.JSONEq(t, string(std), string(b))
		var back record[codecUser]
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, r, back)
	}
	b, _ := encodeRecord(&record[codecUser]{Data: codecUser{ID: "<"}})
	assert.Contains(t, string(b), `"<"`, "no HTML escaping, as a Worker writes")
}

func BenchmarkDecodeRecord(b *testing.B) {
	data := []byte(`{"data":{"id":"u1","count":3},"createdAt":1767225600000,"expiresAt":1767312000000}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r record[codecUser]
			if err := decodeRecord(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r record[codecUser]
			if err := json.Unmarshal(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
