// Package nethttp adapts kvkit's patterns to net/http: each middleware is,
// or returns, a func(http.Handler) http.Handler, and per-request state lives
// in the request's context behind typed getters.
//
// The package name differs from its folder so that it never collides with
// net/http:
//
//	import "github.com/kvkit/kvkit/middleware/nethttp"
package nethttp
