package flags

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
)

// Flag is a flag definition as stored in KV: JSON with exactly the field
// names of the TypeScript recipe (enabled, rolloutPercent, allowlist), plus
// two optional fields the recipe ignores (denylist, variants). Unknown fields
// are ignored when reading; missing fields take their zero value.
//
//	{"enabled": true, "rolloutPercent": 25, "allowlist": ["12345"]}
type Flag struct {
	// Enabled switches the flag as a whole: false means off for everyone.
	Enabled bool `json:"enabled"`
	// RolloutPercent is the share of users who get the flag, 0 to 100;
	// fractions are allowed (0.5 is one user in 200). A user is in the
	// rollout when Bucket(name, userID) < RolloutPercent.
	RolloutPercent float64 `json:"rolloutPercent"`
	// Allowlist holds user IDs that always get an enabled flag.
	Allowlist []string `json:"allowlist"`
	// Denylist holds user IDs that never get the flag, even when
	// allowlisted. Optional; not part of the TypeScript recipe.
	Denylist []string `json:"denylist,omitempty"`
	// Variants splits the users who get the flag between weighted variants
	// (A/B tests), chosen by the same bucket. Optional; not part of the
	// TypeScript recipe.
	Variants []Variant `json:"variants,omitempty"`
}

// Variant is one arm of an A/B test. Weights are relative: {A 1, B 3}
// gives A a quarter of the users who get the flag.
type Variant struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
}

// flagsError is the type of this package's sentinels: constants, so other
// packages cannot reassign them.
type flagsError string

func (e flagsError) Error() string { return string(e) }

// ErrInvalidFlag is wrapped by the error of a definition that cannot be
// stored: a percent outside 0..100 or NaN, or bad variants. A bad flag name
// is kv.ErrInvalidKey instead.
const ErrInvalidFlag flagsError = "flags: invalid flag"

// Validate reports whether f can be stored: RolloutPercent in 0..100 (NaN
// is rejected), variants with non-empty unique names and finite,
// non-negative weights that do not all sum to zero.
func (f Flag) Validate() error {
	p := f.RolloutPercent
	if math.IsNaN(p) || p < 0 || p > 100 {
		return fmt.Errorf("%w: rolloutPercent %v is not in 0..100", ErrInvalidFlag, p)
	}
	if len(f.Variants) == 0 {
		return nil
	}
	var total float64
	seen := make(map[string]bool, len(f.Variants))
	for _, v := range f.Variants {
		if v.Name == "" {
			return fmt.Errorf("%w: variant with an empty name", ErrInvalidFlag)
		}
		if seen[v.Name] {
			return fmt.Errorf("%w: variant %q appears twice", ErrInvalidFlag, v.Name)
		}
		seen[v.Name] = true
		if math.IsNaN(v.Weight) || math.IsInf(v.Weight, 0) || v.Weight < 0 {
			return fmt.Errorf("%w: variant %q has weight %v", ErrInvalidFlag, v.Name, v.Weight)
		}
		total += v.Weight
	}
	if total <= 0 || math.IsInf(total, 0) {
		return fmt.Errorf("%w: variant weights sum to %v", ErrInvalidFlag, total)
	}
	return nil
}

// bucketBuf is the size of the stack buffer Bucket hashes from; longer
// inputs fall back to a heap buffer.
const bucketBuf = 128

// Bucket returns the user's position in the flag's rollout, in [0, 100]:
// the SHA-256 of the UTF-8 bytes of flag + ":" + userID, its bytes 0-3 read
// as a big-endian uint32, divided by 0xffffffff, times 100, in that order in
// float64. The result is bit for bit the TypeScript recipe's.
func Bucket(flag, userID string) float64 {
	n := len(flag) + 1 + len(userID)
	var sum [sha256.Size]byte
	if n <= bucketBuf {
		var buf [bucketBuf]byte
		copy(buf[copy(buf[:], flag)+1:], userID)
		buf[len(flag)] = ':'
		sum = sha256.Sum256(buf[:n])
	} else {
		buf := make([]byte, 0, n)
		buf = append(append(append(buf, flag...), ':'), userID...)
		sum = sha256.Sum256(buf)
	}
	return bucketOf(sum)
}

func bucketOf(sum [sha256.Size]byte) float64 {
	// Division then multiplication, as JavaScript evaluates
	// view.getUint32(0) / 0xffffffff * 100.
	return float64(binary.BigEndian.Uint32(sum[:4])) / 0xffffffff * 100
}

// Reason says which rule decided an evaluation.
type Reason uint8

// The rules, in evaluation order.
const (
	// ReasonError: the definition could not be loaded and none was known.
	ReasonError Reason = iota
	// ReasonNotFound: no flag by that name; off.
	ReasonNotFound
	// ReasonDisabled: enabled is false; off.
	ReasonDisabled
	// ReasonDenied: the user is in the denylist; off.
	ReasonDenied
	// ReasonAllowed: the user is in the allowlist; on.
	ReasonAllowed
	// ReasonRollout: decided by Bucket < RolloutPercent; on or off.
	ReasonRollout
)

var reasonNames = [...]string{"error", "not-found", "disabled", "denied", "allowed", "rollout"}

// String returns the reason's name ("rollout", "allowed", ...).
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", r)
}

// MarshalText encodes the reason as its name, so a Decision reads well as
// JSON.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Decision is the outcome of evaluating a flag for a user.
type Decision struct {
	Enabled bool `json:"enabled"`
	// Variant is the chosen variant's name when the flag is on and has
	// variants; "" otherwise.
	Variant string `json:"variant,omitempty"`
	Reason  Reason `json:"reason"`
}

// Evaluate decides f, stored under name, for userID, in the recipe's order:
// enabled false → off; user in the allowlist → on; else on iff
// Bucket(name, userID) < RolloutPercent. The denylist (an extension) is
// checked before the allowlist and turns the flag off.
//
// When the flag is on and has variants, the variant is chosen by the same
// bucket, rescaled to the users who get the flag: a user in the rollout sits
// at Bucket/RolloutPercent of the variants' cumulative weights (an
// allowlisted user outside the rollout at Bucket/100), so each variant gets
// its weight's share of the users who get the flag. Changing RolloutPercent
// therefore moves users between variants; freeze it while a test runs.
func (f Flag) Evaluate(name, userID string) Decision {
	return compile(f).evaluate(name, userID)
}

// compiled is a definition prepared for fast evaluation: lists as sets and
// variant weights as cumulative fractions.
type compiled struct {
	def   Flag
	allow members
	deny  members
	cum   []float64 // cumulative weight / total, last == 1
}

func compile(f Flag) *compiled {
	c := &compiled{def: f}
	c.allow = set(f.Allowlist)
	c.deny = set(f.Denylist)
	if len(f.Variants) > 0 {
		var total float64
		for _, v := range f.Variants {
			if v.Weight > 0 && !math.IsInf(v.Weight, 0) {
				total += v.Weight
			}
		}
		if total > 0 {
			c.cum = make([]float64, len(f.Variants))
			var run float64
			for i, v := range f.Variants {
				if v.Weight > 0 && !math.IsInf(v.Weight, 0) {
					run += v.Weight
				}
				c.cum[i] = run / total
			}
			c.cum[len(c.cum)-1] = 1
		}
	}
	return c
}

// members is a user list: scanned when short (cheaper than hashing the ID),
// a set when long.
type members struct {
	list []string
	set  map[string]struct{}
}

// shortList is the longest list scanned rather than hashed.
const shortList = 8

func set(list []string) members {
	if len(list) <= shortList {
		return members{list: list}
	}
	m := make(map[string]struct{}, len(list))
	for _, s := range list {
		m[s] = struct{}{}
	}
	return members{set: m}
}

func (m *members) empty() bool { return m.set == nil && len(m.list) == 0 }

func (m *members) has(id string) bool {
	if m.set != nil {
		_, ok := m.set[id]
		return ok
	}
	for _, s := range m.list {
		if s == id {
			return true
		}
	}
	return false
}

func (c *compiled) evaluate(name, userID string) Decision {
	if c == nil {
		return Decision{Reason: ReasonNotFound}
	}
	if !c.def.Enabled {
		return Decision{Reason: ReasonDisabled}
	}
	if c.deny.has(userID) {
		return Decision{Reason: ReasonDenied}
	}
	allowed := c.allow.has(userID)
	if allowed && c.cum == nil {
		return Decision{Enabled: true, Reason: ReasonAllowed}
	}
	b := Bucket(name, userID)
	p := c.def.RolloutPercent
	inRollout := b < p
	switch {
	case allowed:
		d := Decision{Enabled: true, Reason: ReasonAllowed}
		if inRollout {
			d.Variant = c.variant(b / p)
		} else {
			d.Variant = c.variant(b / 100)
		}
		return d
	case inRollout:
		return Decision{Enabled: true, Reason: ReasonRollout, Variant: c.variant(b / p)}
	}
	return Decision{Reason: ReasonRollout}
}

// ref is what a snapshot maps a flag name to: the compiled definition, plus
// what deciding a plain or disabled flag needs, so that the common check
// reads the map and nothing else (with thousands of flags, the definitions
// no longer fit in the CPU cache; the map's entries nearly do).
type ref struct {
	c    *compiled // nil: no such flag (in an overlay: deleted)
	pct  float64   // c.def.RolloutPercent
	kind refKind
}

type refKind uint8

const (
	refFull     refKind = iota // decided by c.evaluate
	refPlain                   // enabled, no lists, no variants: decided by the bucket alone
	refDisabled                // enabled false
)

func refOf(c *compiled) ref {
	r := ref{c: c, pct: c.def.RolloutPercent}
	switch {
	case !c.def.Enabled:
		r.kind = refDisabled
	case c.allow.empty() && c.deny.empty() && c.cum == nil:
		r.kind = refPlain
	}
	return r
}

// evaluate is c.evaluate, without reading c for plain and disabled flags.
func (r ref) evaluate(name, userID string) Decision {
	switch r.kind {
	case refPlain:
		return Decision{Enabled: Bucket(name, userID) < r.pct, Reason: ReasonRollout}
	case refDisabled:
		return Decision{Reason: ReasonDisabled}
	}
	return r.c.evaluate(name, userID)
}

// variant picks the variant at position x in [0, 1]: the first whose
// cumulative share exceeds x (so a zero-weight variant is never chosen).
func (c *compiled) variant(x float64) string {
	if c.cum == nil {
		return ""
	}
	for i, cum := range c.cum {
		if x < cum {
			return c.def.Variants[i].Name
		}
	}
	for i := len(c.cum) - 1; i >= 0; i-- { // x == 1: the last weighted arm
		if c.def.Variants[i].Weight > 0 {
			return c.def.Variants[i].Name
		}
	}
	return ""
}
