//go:build e2e

package flags_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVectorsAgainstWebCrypto recomputes the vectors in JavaScript with
// crypto.subtle (testdata/check-vectors.mjs), so the file is checked
// against the TypeScript arithmetic itself, not only against Go. It needs
// Node (go test -tags e2e, as .ci/run runs it) and fails without it.
func TestVectorsAgainstWebCrypto(t *testing.T) {
	node, err := exec.LookPath("node")
	require.NoError(t, err, "Node is required for -tags e2e")
	out, err := exec.Command(node, "testdata/check-vectors.mjs").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "300 vectors match", strings.TrimSpace(string(out)))
}
