package readme_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/internal/readme"
)

const generated = "readme_blocks_test.go"

// TestBlocksAreCurrent keeps readme_blocks_test.go, the README's Go blocks
// as compiled code, in step with README.md. When the README changes, run
// go run ./internal/readme/gen; then go vet and go test compile every
// block.
func TestBlocksAreCurrent(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	want, err := readme.Generate(md)
	require.NoError(t, err)
	got, err := os.ReadFile(generated)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "README.md changed: run go run ./internal/readme/gen")
}

func TestBlocksRules(t *testing.T) {
	t.Parallel()
	md := []byte("## A\n```go\ntype T struct{}\nx := T{}\n```\ntext\n```go\nimport \"fmt\"\nfmt.Println(x)\n```\n## B\n```go\nfunc F() {}\n```\n")
	src, err := readme.Generate(md)
	require.NoError(t, err)
	s := string(src)
	require.Contains(t, s, "type T struct{}")
	require.Contains(t, s, "func section1() error {")
	require.Contains(t, s, "_ = x")
	require.Contains(t, s, "func F() {}")
	require.Contains(t, s, "\"fmt\"")

	_, err = readme.Generate([]byte("## A\n```go\nimport \"example.com/fmt\"\nfmt.Println(1)\n```\n"))
	require.ErrorContains(t, err, "this README uses")
	_, err = readme.Generate([]byte("## A\n```go\nnope.Do()\n```\n"))
	require.ErrorContains(t, err, "neither a known package nor declared in its section")
	_, err = readme.Generate([]byte("## A\n```go\nfunc {\n```\n"))
	require.ErrorContains(t, err, "README.md:2")
}
