package readme_test

import (
	"context"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
)

// What every README section may use without declaring it.
var (
	ctx              = context.Background()
	ns  kv.Namespace = memory.New(memory.Options{})
)
