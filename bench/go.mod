module github.com/kvkit/kvkit/bench

go 1.26.0

replace github.com/kvkit/kvkit => ../

require (
	github.com/go-chi/httprate v0.16.1 // indirect
	github.com/klauspost/cpuid/v2 v2.2.10 // indirect
	github.com/zeebo/xxh3 v1.0.2 // indirect
	golang.org/x/sys v0.30.0 // indirect
)
