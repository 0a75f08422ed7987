package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/examples/internal/demotest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemo(t *testing.T) { demotest.Suite(t, run, framework) }
