package session

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type codecUser struct {
	ID    string `json:"id"`
	Count int    `json:"count"`
}

func TestDecodeRecordReuse(t *testing.T) {
	inputs := []struct {
		in   string
		want record[codecUser]
		ok   bool
	}{
		{`{"data":{"id":"a","count":1},"expiresAt":5}`, record[codecUser]{Data: codecUser{"a", 1}, ExpiresAt: 5}, true},
		{"{\"data\":{\"id\":\"b\"}}  \n\t", record[codecUser]{Data: codecUser{ID: "b"}}, true},
		{`{"data":{"id":"c"}}}`, record[codecUser]{}, false},
		{`{"data":{"id":"d"}} {}`, record[codecUser]{}, false},
		{`{"data":`, record[codecUser]{}, false},
		{`not json`, record[codecUser]{}, false},
		{``, record[codecUser]{}, false},
		{`{"data":{"id":"e","count":2},"idleTimeout":3}`, record[codecUser]{Data: codecUser{"e", 2}, IdleTimeout: 3}, true},
	}
	for range 3 { // several rounds, so pooled decoders see every order
		for _, in := range inputs {
			var got record[codecUser]
			err := decodeRecord([]byte(in.in), &got)
			var std record[codecUser]
			stdErr := json.Unmarshal([]byte(in.in), &std)
			require.Equal(t, stdErr == nil, err == nil, "%q: %v / %v", in.in, err, stdErr)
			if in.ok {
				assert.Equal(t, in.want, got, in.in)
			}
		}
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	data := []byte(`{"data":{"id":"u1","count":3},"createdAt":1767225600000,"expiresAt":1767312000000}`)
	b.Run("pooled", func(b *testing.B) {
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
