package kv_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/kv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidateKey(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"a", "...", "./a", "a.", ".a", "a/../b", strings.Repeat("x", 512), strings.Repeat("😀", 128), "nul\x00", " "} {
		assert.NoError(t, kv.ValidateKey(k), "%q", k)
	}
	for _, k := range []string{"", ".", "..", strings.Repeat("x", 513), strings.Repeat("😀", 129),
		"bad\xff\xfekey", "caf\xc3", "\xed\xa0\x80", "\xc0\xaf", strings.Repeat("é", 255) + "\xc3"} {
		assert.ErrorIs(t, kv.ValidateKey(k), kv.ErrInvalidKey, "%q", k)
	}
	assert.ErrorContains(t, kv.ValidateKey("bad\xffkey"), "not valid UTF-8")
}

func TestValidatePrefix(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "user:", ".", "caf\u00e9", strings.Repeat("x", kv.MaxKeySize)} {
		assert.NoError(t, kv.ValidatePrefix(p), "%q", p)
	}
	for _, p := range []string{"caf\xc3", "\xff", strings.Repeat("x", kv.MaxKeySize+1)} {
		assert.ErrorIs(t, kv.ValidatePrefix(p), kv.ErrInvalidKey, "%q", p)
	}
}

func TestValidateTTLAndExpiration(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, -time.Second, time.Second, 59 * time.Second, 60*time.Second + time.Millisecond} {
		assert.ErrorIs(t, kv.ValidateTTL(d), kv.ErrInvalidTTL, d.String())
	}
	for _, d := range []time.Duration{60 * time.Second, time.Hour, 365 * 24 * time.Hour} {
		assert.NoError(t, kv.ValidateTTL(d), d.String())
	}
	now := time.Unix(1_800_000_000, 500_000_000)
	for _, e := range []time.Time{now, now.Add(-time.Hour), now.Add(59 * time.Second), time.Unix(kv.MaxExpiration+1, 0)} {
		assert.ErrorIs(t, kv.ValidateExpiration(e, now), kv.ErrInvalidExpiration, e.String())
	}
	for _, e := range []time.Time{now.Add(60 * time.Second), time.Unix(kv.MaxExpiration, 0)} {
		assert.NoError(t, kv.ValidateExpiration(e, now), e.String())
	}
}

func TestPrefixHelpers(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "user:1", kv.PrefixKey("user:", "1"))
	k, ok := kv.StripPrefix("user:", "user:1")
	assert.True(t, ok)
	assert.Equal(t, "1", k)
	k, ok = kv.StripPrefix("user:", "post:1")
	assert.False(t, ok)
	assert.Equal(t, "post:1", k)
}

// FuzzKeys checks that validation follows the byte rules exactly and that
// prefixing and stripping round-trip any key.
func FuzzKeys(f *testing.F) {
	for _, s := range []string{"", ".", "..", "...", "a/b", "😀", strings.Repeat("é", 300), "\xff\xfe"} {
		f.Add("user:", s)
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, prefix, key string) {
		full := kv.PrefixKey(prefix, key)
		want := full != "" && full != "." && full != ".." && len(full) <= kv.MaxKeySize && utf8.ValidString(full)
		err := kv.ValidateKey(full)
		require.Equal(t, want, err == nil, "ValidateKey(%q) = %v", full, err)
		if err != nil {
			require.ErrorIs(t, err, kv.ErrInvalidKey)
		}
		got, ok := kv.StripPrefix(prefix, full)
		require.True(t, ok)
		require.Equal(t, key, got)
		require.Equal(t, utf8.ValidString(full) && len(full) <= kv.MaxKeySize, kv.ValidatePrefix(full) == nil, "ValidatePrefix(%q)", full)
	})
}
