package kv

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// kvError is the type of the package's sentinel errors. Being a string
// constant type, the sentinels cannot be reassigned by other packages.
type kvError string

func (e kvError) Error() string { return string(e) }

// Sentinel errors. Every error returned by this package and by conforming
// backends wraps one of these (or a context error), so callers check the class
// of a failure with [errors.Is] and never parse messages.
const (
	// ErrInvalidKey: empty, ".", "..", longer than MaxKeySize bytes, or not
	// valid UTF-8 (a key, or a list prefix).
	ErrInvalidKey kvError = "kv: invalid key"
	// ErrInvalidTTL: a TTL under MinTTL, negative, or not whole seconds.
	ErrInvalidTTL kvError = "kv: invalid TTL"
	// ErrInvalidExpiration: an absolute expiration less than MinTTL in the
	// future, or past MaxExpiration.
	ErrInvalidExpiration kvError = "kv: invalid expiration"
	// ErrValueTooLarge: a value over MaxValueSize bytes.
	ErrValueTooLarge kvError = "kv: value too large"
	// ErrMetadataTooLarge: metadata whose JSON encoding is over
	// MaxMetadataSize bytes.
	ErrMetadataTooLarge kvError = "kv: metadata too large"
	// ErrInvalidMetadata: metadata that is not valid JSON.
	ErrInvalidMetadata kvError = "kv: invalid metadata"
	// ErrInvalidBatch: a bulk call with no keys or more than the bulk limit.
	ErrInvalidBatch kvError = "kv: invalid batch size"
	// ErrInvalidLimit: a list limit outside 0..MaxListLimit.
	ErrInvalidLimit kvError = "kv: invalid list limit"
	// ErrInvalidCursor: a list cursor the backend never issued.
	ErrInvalidCursor kvError = "kv: invalid list cursor"
	// ErrInvalidOptions: a Store or backend constructed with unusable options.
	ErrInvalidOptions kvError = "kv: invalid options"
	// ErrCodec: a value or metadata could not be encoded or decoded.
	ErrCodec kvError = "kv: codec error"
	// ErrNotFound is for APIs that must return a value (a missing key is not
	// an error for Get, which reports found == false instead).
	ErrNotFound kvError = "kv: not found"

	// ErrRateLimited: the backend refused the call for exceeding a rate limit
	// (HTTP 429 from Cloudflare).
	ErrRateLimited kvError = "kv: rate limited"
	// ErrUnavailable: the backend could not be reached or failed (transport
	// errors, HTTP 5xx).
	ErrUnavailable kvError = "kv: backend unavailable"
	// ErrUnauthorized: the credentials were refused (HTTP 401/403).
	ErrUnauthorized kvError = "kv: unauthorized"
)

// Error is the error type returned by this package and conforming backends.
// It names the operation and the key (when there is one) and unwraps to the
// cause, usually one of the sentinels above.
type Error struct {
	Op  string // "get", "put", "delete", "list", "get-many", ...
	Key string // the full key as sent to the namespace; "" when not applicable
	Err error
}

func (e *Error) Error() string {
	msg := "kv: " + e.Op
	if e.Key != "" {
		msg += " " + quoteKey(e.Key)
	}
	if e.Err != nil {
		msg += ": " + trimPrefix(e.Err.Error())
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// trimPrefix drops the repeated "kv: " of a wrapped sentinel so messages read
// "kv: put \"k\": invalid key: ..." rather than "kv: put \"k\": kv: invalid key".
func trimPrefix(s string) string {
	if len(s) > 4 && s[:4] == "kv: " {
		return s[4:]
	}
	return s
}

// detail wraps a sentinel with a human explanation while keeping errors.Is.
type detail struct {
	sentinel error
	msg      string
}

func (d *detail) Error() string { return d.sentinel.Error() + ": " + d.msg }
func (d *detail) Unwrap() error { return d.sentinel }

// Errorf-free helper: newDetail(ErrInvalidKey, "longer than 512 bytes").
func newDetail(sentinel error, msg string) error { return &detail{sentinel, msg} }

// wrap attaches op and key to err unless it is nil or already an *Error for
// the same op.
func wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e.Op == op {
		return err
	}
	return &Error{Op: op, Key: key, Err: err}
}

// BulkError reports a bulk operation that failed for some keys only. Keys
// lists the keys that were not written or deleted; Err is the cause. The
// keys not listed succeeded.
type BulkError struct {
	Op   string
	Keys []string
	Err  error
}

func (e *BulkError) Error() string {
	return "kv: " + e.Op + ": " + strconv.Itoa(len(e.Keys)) + " keys failed: " + trimPrefix(errString(e.Err))
}

func (e *BulkError) Unwrap() error { return e.Err }

func errString(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// quoteKey quotes a key for a message, shortening keys over 64 bytes so a
// 512-byte key does not flood a log line (Error.Key keeps it whole).
func quoteKey(k string) string {
	if len(k) <= 64 {
		return strconv.Quote(k)
	}
	cut := 48
	for cut > 0 && !utf8.RuneStart(k[cut]) {
		cut--
	}
	return strconv.Quote(k[:cut]) + "… (" + strconv.Itoa(len(k)) + " bytes)"
}
