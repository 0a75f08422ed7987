module github.com/kvkit/kvkit/bench

go 1.26.0

replace github.com/kvkit/kvkit => ../

require (
	github.com/growthbook/growthbook-golang v0.7.0 // indirect
	github.com/tmaxmax/go-sse v0.10.0 // indirect
)
