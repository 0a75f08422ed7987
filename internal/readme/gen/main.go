// Command gen rewrites internal/readme/readme_blocks_test.go from
// README.md: go run ./internal/readme/gen (from the module root).
package main

import (
	"fmt"
	"os"

	"github.com/kvkit/kvkit/internal/readme"
)

func main() {
	md, err := os.ReadFile("README.md")
	if err != nil {
		fail(err)
	}
	src, err := readme.Generate(md)
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile("internal/readme/readme_blocks_test.go", src, 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "readme:", err)
	os.Exit(1)
}
