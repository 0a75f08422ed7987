package kvecho_test

import (
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
)

func sessionCounting() *kvtest.CountingBulk {
	return kvtest.NewCountingBulk(memory.New(memory.Options{}))
}
