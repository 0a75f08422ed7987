package session

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

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
func checkDecode[T any](t *testing.T, in string) {
	var got, want record[T]
	err := decodeRecord([]byte(in), &got, planFor(reflect.TypeFor[T]()))
	wantErr := json.Unmarshal([]byte(in), &want)
	require.Equal(t, wantErr == nil, err == nil, "%q: %v / %v", in, err, wantErr)
	if wantErr == nil {
		require.Equal(t, want, got, in)
	}
}

func TestDecodeRecordMatchesUnmarshal(t *testing.T) {
	for range 3 { // several rounds, so pooled decoders see every order
		for _, in := range codecSeeds {
			checkDecode[codecUser](t, in)
		}
	}
	var r record[codecUser]
	require.Nil(t, planFor(reflect.TypeFor[codecUser]()), "a slice field: not flat")
	require.True(t, decodeFast([]byte(codecSeeds[0]), &r, nil), "the common form takes the fast path")
	require.True(t, decodeFast([]byte(codecSeeds[2]), &r, nil))
}

func FuzzDecodeRecord(f *testing.F) {
	for _, s := range codecSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) { checkDecode[codecUser](t, in) })
}

type role string

// flatUser has a field of every kind the flat decoder handles, and the
// fields encoding/json ignores.
type flatUser struct {
	ID      string  `json:"id"`
	Role    role    `json:"role,omitempty"`
	Admin   bool    `json:"admin"`
	N       int     `json:"n"`
	I8      int8    `json:"i8"`
	U16     uint16  `json:"u16"`
	U       uint64  `json:"u"`
	F32     float32 `json:"f32"`
	F       float64 `json:"f"`
	Plain   string
	Skipped string `json:"-"`
	Dash    string `json:"-,"`
	hidden  int
}

var flatSeeds = []string{
	`{"data":{"id":"u1","role":"admin","admin":true,"n":-3,"i8":-128,"u16":65535,"u":18446744073709551615,"f32":1.5,"f":-2.5e-3,"Plain":"p","-":"d"},"createdAt":1,"expiresAt":5}`,
	`{"data":{},"expiresAt":1}`,
	`{"data":{ "id" : "ünïcödé ✓" , "n" : 0 } ,"expiresAt":1}`,
	`{"data":{"id":null,"admin":null,"n":null},"expiresAt":1}`,
	`{"data":{"id":"a\"b"},"expiresAt":1}`,
	`{"data":{"id":"a\u00e9\ud800"},"expiresAt":1}`,
	"{\"data\":{\"id\":\"\xff\"},\"expiresAt\":1}",
	"{\"data\":{\"id\":\"a\x01\"},\"expiresAt\":1}",
	`{"data":{"ID":"upper"},"expiresAt":1}`,
	`{"data":{"plain":"folded"},"expiresAt":1}`,
	`{"data":{"Skipped":"x","hidden":1,"Dash":"y"},"expiresAt":1}`,
	`{"data":{"other":{"a":[1,2.5e3,true,false,null,"s\n\u0041",{}],"b":[]},"id":"after"},"expiresAt":1}`,
	`{"data":{"other":[1,],"id":"x"},"expiresAt":1}`,
	`{"data":{"other":{"a" 1},"id":"x"},"expiresAt":1}`,
	`{"data":{"other":{1:2},"id":"x"},"expiresAt":1}`,
	`{"data":{"other":"\x","id":"x"},"expiresAt":1}`,
	`{"data":{"other":"\u12G4","id":"x"},"expiresAt":1}`,
	`{"data":{"other":01,"id":"x"},"expiresAt":1}`,
	`{"data":{"other":-,"id":"x"},"expiresAt":1}`,
	`{"data":{"other":1.,"id":"x"},"expiresAt":1}`,
	`{"data":{"other":1e,"id":"x"},"expiresAt":1}`,
	`{"data":{"other":nul,"id":"x"},"expiresAt":1}`,
	`{"data":{"n":1.0},"expiresAt":1}`,
	`{"data":{"n":1e2},"expiresAt":1}`,
	`{"data":{"n":-0},"expiresAt":1}`,
	`{"data":{"n":99999999999999999999},"expiresAt":1}`,
	`{"data":{"i8":128},"expiresAt":1}`,
	`{"data":{"u16":-0},"expiresAt":1}`,
	`{"data":{"u16":65536},"expiresAt":1}`,
	`{"data":{"f32":1e39},"expiresAt":1}`,
	`{"data":{"f":1e400},"expiresAt":1}`,
	`{"data":{"n":"1"},"expiresAt":1}`,
	`{"data":{"id":1},"expiresAt":1}`,
	`{"data":{"admin":"true"},"expiresAt":1}`,
	`{"data":{"admin":tru},"expiresAt":1}`,
	`{"data":{"admin":truex},"expiresAt":1}`,
	`{"data":{"n":1 2},"expiresAt":1}`,
	`{"data":{"id":"a","id":"b"},"expiresAt":1}`,
	`{"data":{"id":"a"},"data":{"n":2},"expiresAt":1}`,
	`{"data":{"id":"a",},"expiresAt":1}`,
	`{"data":{"id":"a"`,
	`{"data":{"id"`,
	`{"data":{,"expiresAt":1}`,
	`{"data":[],"expiresAt":1}`,
	`{"data":"s","expiresAt":1}`,
}

func TestDecodeRecordFlatMatchesUnmarshal(t *testing.T) {
	require.NotNil(t, planFor(reflect.TypeFor[flatUser]()))
	for _, in := range append(flatSeeds, codecSeeds...) {
		checkDecode[flatUser](t, in)
	}
	var r record[flatUser]
	require.True(t, decodeFast([]byte(flatSeeds[0]), &r, planFor(reflect.TypeFor[flatUser]())), "every field kind takes the flat path")
	require.True(t, decodeFast([]byte(flatSeeds[11]), &r, planFor(reflect.TypeFor[flatUser]())), "so do unknown fields")
}

func FuzzDecodeRecordFlat(f *testing.F) {
	for _, s := range append(flatSeeds, codecSeeds...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) { checkDecode[flatUser](t, in) })
}

type (
	embedded     struct{ A string }
	withEmbedded struct {
		embedded
		B string
	}
	withStringOpt struct {
		N int `json:"n,string"`
	}
	withTime struct{ T time.Time }
	withText struct{ R textRole }
	textRole string
	withDup  struct {
		A string `json:"x"`
		B string `json:"X"`
	}
	withOddName struct {
		A string `json:"a b"`
	}
	withPointer struct{ P *string }
)

func (r *textRole) UnmarshalText(b []byte) error { *r = textRole(b); return nil }

func TestPlanForRejectsWhatJSONTreatsItsOwnWay(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[withEmbedded](), reflect.TypeFor[withStringOpt](), reflect.TypeFor[withTime](),
		reflect.TypeFor[withText](), reflect.TypeFor[withDup](), reflect.TypeFor[withOddName](),
		reflect.TypeFor[withPointer](), reflect.TypeFor[map[string]string](), reflect.TypeFor[string](),
	} {
		assert.Nil(t, planFor(typ), typ.String())
	}
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
	b.Run("flat", func(b *testing.B) {
		type user struct {
			ID    string `json:"id"`
			Count int    `json:"count"`
		}
		p := planFor(reflect.TypeFor[user]())
		b.ReportAllocs()
		for b.Loop() {
			var r record[user]
			if err := decodeRecord(data, &r, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r record[codecUser]
			if err := decodeRecord(data, &r, nil); err != nil {
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
