package kv

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Workers KV limits (docs/cloudflare-kv.md §1 and §6). Backends and the Store check
// them before any request, so bad input never costs a call.
const (
	MaxKeySize      = 512              // bytes of UTF-8, not characters
	MaxValueSize    = 25 << 20         // 26,214,400 bytes
	MaxMetadataSize = 1024             // bytes of the metadata's JSON encoding
	MinTTL          = 60 * time.Second // shortest expiration TTL KV accepts
	MaxListLimit    = 1000             // most keys in one list page
	MaxBulkGet      = 100              // most keys in one bulk read
	MaxBulkWrite    = 10000            // most pairs in one bulk write or delete
	MaxExpiration   = 2147483647       // latest absolute expiration, Unix seconds
	MinEdgeCacheTTL = 30 * time.Second // shortest cacheTtl a binding read accepts
)

// ValidateKey reports whether key is a valid Workers KV key: non-empty, not
// exactly "." or "..", at most MaxKeySize bytes, and valid UTF-8. Any other
// text ("/", "?", "#", "%", spaces, NUL, emoji, "...") is valid. Keys are
// text to KV: the REST API turns bytes that are not UTF-8 into U+FFFD (so a
// key written one way is not found another way) while a local backend would
// keep them, so every backend refuses them. The error wraps ErrInvalidKey.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return newDetail(ErrInvalidKey, "empty key")
	case key == "." || key == "..":
		return newDetail(ErrInvalidKey, `"." and ".." are not allowed`)
	case len(key) > MaxKeySize:
		return newDetail(ErrInvalidKey, "key is "+strconv.Itoa(len(key))+" bytes, limit is 512")
	case !utf8.ValidString(key):
		return notUTF8("key", key)
	}
	return nil
}

// ValidatePrefix reports whether prefix can select keys in a listing: at
// most MaxKeySize bytes, like a key (the binding answers 414 for a longer
// one; the empty prefix lists everything), and valid UTF-8, like every key,
// since a prefix cut inside a character ("caf\xc3" for "café") would match
// by bytes in one backend and by text, or not at all, in another. The error
// wraps ErrInvalidKey.
func ValidatePrefix(prefix string) error {
	if len(prefix) > MaxKeySize {
		return newDetail(ErrInvalidKey, "prefix is "+strconv.Itoa(len(prefix))+" bytes, limit is 512")
	}
	if !utf8.ValidString(prefix) {
		return notUTF8("list prefix", prefix)
	}
	return nil
}

// notUTF8 names the first byte of s that is not part of valid UTF-8.
func notUTF8(what, s string) error {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		i += n
	}
	msg := what + " is not valid UTF-8"
	if i < len(s) {
		msg += " (byte 0x" + strconv.FormatUint(uint64(s[i]), 16) + " at offset " + strconv.Itoa(i) + ")"
	}
	return newDetail(ErrInvalidKey, msg)
}

// validatePrefixed validates prefix+key without building the string, so the
// hot path of a cached read does not allocate. The prefix is valid UTF-8
// (New checks it), so the whole key is iff key is.
func validatePrefixed(prefix, key string) error {
	if prefix == "" {
		return ValidateKey(key)
	}
	if n := len(prefix) + len(key); n > MaxKeySize {
		return newDetail(ErrInvalidKey, "key is "+strconv.Itoa(n)+" bytes with its prefix, limit is 512")
	}
	if !utf8.ValidString(key) {
		return notUTF8("key", key)
	}
	// A non-empty prefix makes the full key non-empty; it can only equal "."
	// or ".." when prefix and key are made of dots together.
	if full := len(prefix) + len(key); full <= 2 && strings.Trim(prefix, ".") == "" && strings.Trim(key, ".") == "" {
		return newDetail(ErrInvalidKey, `"." and ".." are not allowed`)
	}
	return nil
}

// PrefixKey returns prefix+key.
func PrefixKey(prefix, key string) string { return prefix + key }

// StripPrefix returns key without prefix and whether key had it.
func StripPrefix(prefix, key string) (string, bool) {
	if !strings.HasPrefix(key, prefix) {
		return key, false
	}
	return key[len(prefix):], true
}

// ValidateTTL reports whether ttl is a valid expiration TTL: whole seconds and
// at least MinTTL. The error wraps ErrInvalidTTL. A zero TTL means "none" to
// the Store and is not passed here.
func ValidateTTL(ttl time.Duration) error {
	switch {
	case ttl <= 0:
		return newDetail(ErrInvalidTTL, "TTL "+ttl.String()+" must be greater than 0")
	case ttl%time.Second != 0:
		return newDetail(ErrInvalidTTL, "TTL "+ttl.String()+" is not whole seconds")
	case ttl < MinTTL:
		return newDetail(ErrInvalidTTL, "TTL "+ttl.String()+" must be at least 60s")
	}
	return nil
}

// ValidateEdgeCacheTTL reports whether ttl is a valid edge cache TTL (a
// binding read's cacheTtl): whole seconds and at least MinEdgeCacheTTL. The
// error wraps ErrInvalidTTL. Zero means "none" and is not passed here.
func ValidateEdgeCacheTTL(ttl time.Duration) error {
	switch {
	case ttl%time.Second != 0:
		return newDetail(ErrInvalidTTL, "edge cache TTL "+ttl.String()+" is not whole seconds")
	case ttl < MinEdgeCacheTTL:
		return newDetail(ErrInvalidTTL, "edge cache TTL "+ttl.String()+" must be at least 30s")
	}
	return nil
}

// ValidateExpiration reports whether exp is a valid absolute expiration at
// time now: at least MinTTL after now (compared in whole Unix seconds, as KV
// does) and not after MaxExpiration. The error wraps ErrInvalidExpiration.
func ValidateExpiration(exp, now time.Time) error {
	e, n := exp.Unix(), now.Unix()
	switch {
	case e <= n:
		return newDetail(ErrInvalidExpiration, "expiration "+strconv.FormatInt(e, 10)+" is not in the future")
	case e < n+60:
		return newDetail(ErrInvalidExpiration, "expiration "+strconv.FormatInt(e, 10)+" must be at least 60 seconds in the future")
	case e > MaxExpiration:
		return newDetail(ErrInvalidExpiration, "expiration "+strconv.FormatInt(e, 10)+" is after 2147483647")
	}
	return nil
}

// ValidateMetadata reports whether meta is acceptable KV metadata: valid JSON
// of at most MaxMetadataSize bytes. Empty (nil) metadata means "none".
func ValidateMetadata(meta json.RawMessage) error {
	if len(meta) == 0 {
		return nil
	}
	if len(meta) > MaxMetadataSize {
		return newDetail(ErrMetadataTooLarge, "metadata is "+strconv.Itoa(len(meta))+" bytes, limit is 1024")
	}
	if !json.Valid(meta) {
		return newDetail(ErrInvalidMetadata, "metadata is not valid JSON")
	}
	return nil
}

// ValidateValue reports whether a value of n bytes fits KV's value limit.
func ValidateValue(n int) error {
	if n > MaxValueSize {
		return newDetail(ErrValueTooLarge, "value is "+strconv.Itoa(n)+" bytes, limit is 26214400")
	}
	return nil
}

// ValidatePut checks a whole write the way KV does: key, value size, TTL or
// (when no TTL is given) expiration, and metadata. Backends call it before
// storing anything.
func ValidatePut(key string, valueLen int, opts PutOptions, now time.Time) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ValidateValue(valueLen); err != nil {
		return err
	}
	if opts.TTL != 0 {
		// KV: when both are given the TTL wins and the expiration is not
		// even validated.
		if err := ValidateTTL(opts.TTL); err != nil {
			return err
		}
	} else if !opts.Expiration.IsZero() {
		if err := ValidateExpiration(opts.Expiration, now); err != nil {
			return err
		}
	}
	return ValidateMetadata(opts.Metadata)
}

// ExpiresAt returns the absolute expiration KV stores for a write made at now
// with opts (zero time for none), in whole seconds.
func (o PutOptions) ExpiresAt(now time.Time) time.Time {
	switch {
	case o.TTL != 0:
		return time.Unix(now.Unix()+int64(o.TTL/time.Second), 0)
	case !o.Expiration.IsZero():
		return time.Unix(o.Expiration.Unix(), 0)
	}
	return time.Time{}
}

// ValidateBatch reports whether a bulk call of n items is within 1..max.
func ValidateBatch(n, max int) error {
	if n < 1 || n > max {
		return newDetail(ErrInvalidBatch, strconv.Itoa(n)+" items, must be 1 to "+strconv.Itoa(max))
	}
	return nil
}
