package flags_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/patterns/flags"
)

// flagsVectorsPath holds the vectors made by the TypeScript code (see
// testdata/README.md for where they come from).
const flagsVectorsPath = "testdata/rollout-vectors.json"

type flagsVector struct {
	Flag           string  `json:"flag"`
	UserID         string  `json:"userId"`
	Bucket         float64 `json:"bucket"`
	RolloutPercent float64 `json:"rolloutPercent"`
	Enabled        bool    `json:"enabled"`
}

func flagsLoadVectors(t *testing.T) []flagsVector {
	t.Helper()
	raw, err := os.ReadFile(flagsVectorsPath)
	require.NoError(t, err, "the TypeScript rollout vectors must be at %s", flagsVectorsPath)
	var file struct {
		Vectors []flagsVector `json:"vectors"`
	}
	require.NoError(t, json.Unmarshal(raw, &file))
	require.Len(t, file.Vectors, 300, "expected the 300 vectors made by the TypeScript code")
	return file.Vectors
}

// TestBucketMatchesTypeScriptVectors checks every vector bit for bit: the
// bucket as float64 bits, and the decision of an enabled flag with the
// vector's rollout and no lists.
func TestBucketMatchesTypeScriptVectors(t *testing.T) {
	t.Parallel()
	vs := flagsLoadVectors(t)
	mismatches := 0
	for _, v := range vs {
		got := flags.Bucket(v.Flag, v.UserID)
		if !assert.Equal(t, math.Float64bits(v.Bucket), math.Float64bits(got),
			"bucket(%q, %q) = %v, TypeScript %v", v.Flag, v.UserID, got, v.Bucket) {
			mismatches++
		}
		d := flags.Flag{Enabled: true, RolloutPercent: v.RolloutPercent}.Evaluate(v.Flag, v.UserID)
		if !assert.Equal(t, v.Enabled, d.Enabled, "decision for %q/%q at %v%%", v.Flag, v.UserID, v.RolloutPercent) {
			mismatches++
		}
		assert.Equal(t, flags.ReasonRollout, d.Reason)
	}
	assert.Zero(t, mismatches)
}
