package kv_test

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
)

// What JavaScript's String(n) prints, checked against V8 by hand.
var jsNumbers = []struct {
	f    float64
	want string
}{
	{0, "0"}, {math.Copysign(0, -1), "0"}, {1, "1"}, {-1, "-1"}, {42, "42"},
	{0.1, "0.1"}, {0.30000000000000004, "0.30000000000000004"}, {1.5, "1.5"}, {-2.25, "-2.25"},
	{1e6, "1000000"}, {123456789012345680000, "123456789012345680000"}, {1e21, "1e+21"},
	{1.5e21, "1.5e+21"}, {1e-6, "0.000001"}, {1.5e-6, "0.0000015"}, {1e-7, "1e-7"},
	{1.5e-7, "1.5e-7"}, {math.MaxFloat64, "1.7976931348623157e+308"}, {5e-324, "5e-324"},
	{9007199254740993, "9007199254740992"}, {100, "100"}, {1e20, "100000000000000000000"},
	{math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"},
}

func TestFormatNumberMatchesJavaScript(t *testing.T) {
	t.Parallel()
	for _, c := range jsNumbers {
		assert.Equal(t, c.want, kv.FormatNumber(c.f), "%v", c.f)
	}
}

func TestTextCodec(t *testing.T) {
	t.Parallel()
	enc := func(v any) string {
		b, err := kv.Text.Marshal(v)
		require.NoError(t, err)
		return string(b)
	}
	type myInt int32
	type name string
	assert.Equal(t, "hello", enc("hello"))
	assert.Equal(t, "42", enc(42))
	assert.Equal(t, "-7", enc(int8(-7)))
	assert.Equal(t, "18446744073709551615", enc(uint64(math.MaxUint64)))
	assert.Equal(t, "0.1", enc(0.1))
	assert.Equal(t, "0.1", enc(float32(0.1)), "float32 keeps its shortest form")
	assert.Equal(t, "1e+21", enc(1e21))
	assert.Equal(t, "true", enc(true))
	assert.Equal(t, "5", enc(myInt(5)))
	assert.Equal(t, "ada", enc(name("ada")))
	assert.Equal(t, "raw", enc([]byte("raw")))
	_, err := kv.Text.Marshal(struct{}{})
	assert.Error(t, err)

	var i int
	require.NoError(t, kv.Text.Unmarshal([]byte("41"), &i))
	assert.Equal(t, 41, i)
	require.NoError(t, kv.Text.Unmarshal([]byte("1e+21"), new(float64)))
	require.NoError(t, kv.Text.Unmarshal([]byte("2e+3"), &i), "a Worker may write integers in exponent form")
	assert.Equal(t, 2000, i)
	assert.Error(t, kv.Text.Unmarshal([]byte("1.5"), &i))
	assert.Error(t, kv.Text.Unmarshal([]byte("1e+30"), &i), "out of range")
	var f float64
	require.NoError(t, kv.Text.Unmarshal([]byte("Infinity"), &f))
	assert.True(t, math.IsInf(f, 1))
	require.NoError(t, kv.Text.Unmarshal([]byte("NaN"), &f))
	assert.True(t, math.IsNaN(f))
	assert.Error(t, kv.Text.Unmarshal([]byte("inf"), &f), "Go-only spelling")
	assert.Error(t, kv.Text.Unmarshal([]byte("0x10"), &f))
	assert.Error(t, kv.Text.Unmarshal([]byte(""), &f))
	var u uint8
	assert.Error(t, kv.Text.Unmarshal([]byte("256"), &u))
	var b bool
	require.NoError(t, kv.Text.Unmarshal([]byte("true"), &b))
	assert.True(t, b)
	assert.Error(t, kv.Text.Unmarshal([]byte("1"), new(struct{})))
	assert.Error(t, kv.Text.Unmarshal([]byte("1"), i), "not a pointer")
}

func TestJSONCodecLikeJSONStringify(t *testing.T) {
	t.Parallel()
	b, err := kv.JSON.Marshal(map[string]string{"html": "<a>&</a>"})
	require.NoError(t, err)
	assert.Equal(t, `{"html":"<a>&</a>"}`, string(b), "no HTML escaping, no newline")
}

func TestBytesCodec(t *testing.T) {
	t.Parallel()
	b, err := kv.Bytes.Marshal([]byte{0, 0xff})
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 0xff}, b)
	var out []byte
	require.NoError(t, kv.Bytes.Unmarshal([]byte{}, &out))
	assert.NotNil(t, out, "an empty value is a value")
	_, err = kv.Bytes.Marshal(1)
	assert.Error(t, err)
}

// FuzzTextNumbers checks that every float64 survives the text codec and that
// the text is what JavaScript would print (re-parsed, same bits).
func FuzzTextNumbers(f *testing.F) {
	for _, c := range jsNumbers {
		f.Add(math.Float64bits(c.f))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		x := math.Float64frombits(bits)
		b, err := kv.Text.Marshal(x)
		require.NoError(t, err)
		var y float64
		require.NoError(t, kv.Text.Unmarshal(b, &y), "%s", b)
		if math.IsNaN(x) {
			require.True(t, math.IsNaN(y))
			return
		}
		if x == 0 {
			require.Equal(t, "0", string(b))
			return
		}
		require.Equal(t, x, y, "%s", b)
		// JavaScript's form: exponent notation exactly when |x| >= 1e21 or
		// |x| < 1e-6, and the shortest digits that round-trip.
		text := string(b)
		abs := math.Abs(x)
		if math.IsInf(x, 0) {
			return
		}
		require.Equal(t, abs >= 1e21 || abs < 1e-6, strings.Contains(text, "e"), text)
		require.Regexp(t, `^-?([0-9]+(\.[0-9]+)?|[1-9](\.[0-9]+)?e[+-][0-9]+)$`, text)
		shortest := strconv.FormatFloat(abs, 'e', -1, 64)
		mant, _, _ := strings.Cut(shortest, "e")
		sig := strings.Trim(strings.NewReplacer(".", "", "-", "", "e", "").Replace(strings.Split(text, "e")[0]), "0")
		require.Equal(t, strings.Trim(strings.Replace(mant, ".", "", 1), "0"), sig, "significant digits of %s", text)
	})
}

// FuzzCodecs round-trips strings and byte slices through every codec that
// accepts them.
func FuzzCodecs(f *testing.F) {
	f.Add("hello", []byte{0, 1})
	f.Add("", []byte{})
	f.Add("😀 \x00 \"quoted\" <tag>", []byte{0xff})
	f.Fuzz(func(t *testing.T, s string, raw []byte) {
		for name, c := range map[string]kv.Codec{"json": kv.JSON, "text": kv.Text, "bytes": kv.Bytes} {
			b, err := c.Marshal(s)
			require.NoError(t, err, name)
			var got string
			require.NoError(t, c.Unmarshal(b, &got), name)
			if name == "json" {
				// JSON replaces invalid UTF-8 with U+FFFD, as JSON.stringify
				// cannot represent it either.
				var want string
				require.NoError(t, json.Unmarshal(b, &want))
				require.Equal(t, want, got)
				continue
			}
			require.Equal(t, s, got, name)
		}
		b, err := kv.Bytes.Marshal(raw)
		require.NoError(t, err)
		var back []byte
		require.NoError(t, kv.Bytes.Unmarshal(b, &back))
		require.Equal(t, string(raw), string(back))
	})
}
