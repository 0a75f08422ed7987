// Package ratelimittest is the table of cases that the net/http and Echo
// rate-limit middleware both pass: same requests, same statuses, same
// headers. Each framework's test supplies a Build function that wires its
// middleware from a Setup.
package ratelimittest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/patterns/counter"
)

// Setup is what a framework's middleware is built from.
type Setup struct {
	Limiter    *counter.Limiter
	Key        httpkey.KeyFunc
	FailClosed bool
	Headers    counter.Headers
}

// Build returns an http.Handler that serves GET / with 200 "ok" behind the
// framework's rate-limit middleware configured from s.
type Build func(t *testing.T, s Setup) http.Handler

// Request is one request of a case and what its response must be.
type Request struct {
	Advance    time.Duration     // moved on the clock before the request
	Sync       bool              // the limiter syncs with KV (a flusher tick) before the request
	RemoteAddr string            // default "203.0.113.7:1234"
	Header     map[string]string // request headers
	Cost       int               // set with httpkey.WithCost when > 0
	Status     int
	// Want lists response headers that must be present with these values;
	// a value of "" means the header must be absent.
	Want map[string]string
}

// Case is one scenario.
type Case struct {
	Name       string
	Limit      int
	Window     time.Duration
	Algorithm  counter.Algorithm
	Proxies    httpkey.IPConfig // the httpkey.ByIP config
	ByHeader   string           // key by this header instead of by IP
	FailClosed bool
	IETF       bool
	KVDown     bool // every KV call fails
	// ReadOnRequest sets counter.LimiterOptions.ReadOnRequest: requests
	// wait (briefly) for the stored counts of keys the limiter has not
	// synced.
	ReadOnRequest bool
	Requests      []Request
}

// unix formats the clock's epoch plus d as Unix seconds.
func unix(d time.Duration) string { return strconv.FormatInt(kvtest.Epoch.Add(d).Unix(), 10) }

// Cases returns the shared table. The clock starts at kvtest.Epoch, on a
// minute boundary.
func Cases() []Case {
	reset := unix(time.Minute)
	return []Case{
		{
			Name: "fixed window: headers on every response, 429 and Retry-After past the limit", Limit: 2, Window: time.Minute,
			Algorithm: counter.FixedWindow,
			Requests: []Request{
				{Status: 200, Want: map[string]string{"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": reset, "Retry-After": ""}},
				{Advance: 15 * time.Second, Status: 200, Want: map[string]string{"X-RateLimit-Remaining": "0"}},
				{Status: 429, Want: map[string]string{"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset, "Retry-After": "45"}},
				{Advance: 45 * time.Second, Status: 200, Want: map[string]string{"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": unix(2 * time.Minute)}},
			},
		},
		{
			Name: "sliding window: the previous window still counts", Limit: 2, Window: time.Minute,
			Requests: []Request{
				{Status: 200}, {Status: 200},
				// Retry when 2 × (60 − t)/60 + 1 <= 2: 30 s into the next window.
				{Status: 429, Want: map[string]string{"Retry-After": "90", "X-RateLimit-Remaining": "0"}},
				{Advance: 60 * time.Second, Status: 429, Want: map[string]string{"X-RateLimit-Reset": unix(2 * time.Minute)}},
				{Advance: 30 * time.Second, Status: 200, Want: map[string]string{"X-RateLimit-Remaining": "0"}},
			},
		},
		{
			Name: "spoofed forwarding headers from an untrusted peer buy no quota", Limit: 1, Window: time.Minute,
			Proxies: httpkey.IPConfig{Proxies: httpkey.Proxies{Cloudflare: true, ForwardedFor: lb, RealIP: lb}},
			Requests: []Request{
				{Header: map[string]string{"X-Forwarded-For": "1.1.1.1", "CF-Connecting-IP": "1.1.1.1"}, Status: 200},
				{Header: map[string]string{"X-Forwarded-For": "2.2.2.2", "CF-Connecting-IP": "2.2.2.2"}, Status: 429},
				{Header: map[string]string{"X-Real-IP": "3.3.3.3"}, Status: 429},
			},
		},
		{
			Name: "Cloudflare's CF-Connecting-IP tells clients apart", Limit: 1, Window: time.Minute,
			Proxies: httpkey.IPConfig{Proxies: httpkey.Proxies{Cloudflare: true}},
			Requests: []Request{
				{RemoteAddr: "172.70.0.1:1", Header: map[string]string{"CF-Connecting-IP": "198.51.100.1"}, Status: 200},
				{RemoteAddr: "172.70.0.2:1", Header: map[string]string{"CF-Connecting-IP": "198.51.100.2"}, Status: 200},
				{RemoteAddr: "172.70.0.3:1", Header: map[string]string{"CF-Connecting-IP": "198.51.100.1"}, Status: 429},
			},
		},
		{
			// The audit's bypass: with a load balancer trusted (for
			// X-Forwarded-For), CF-Connecting-IP bought a fresh quota per
			// forged value: 20 of 20 passed a limit of 5.
			Name: "CF-Connecting-IP through a trusted load balancer is not believed unless Cloudflare sent it", Limit: 5, Window: time.Minute,
			Proxies:  httpkey.IPConfig{Proxies: httpkey.Proxies{ForwardedFor: lb}},
			Requests: forgedThroughLB(20, 5),
		},
		{
			Name: "IPv6 grouped by /48 when configured: 20 /64s in one /48 share a quota", Limit: 5, Window: time.Minute,
			Proxies:  httpkey.IPConfig{IPv6Prefix: 48},
			Requests: sixtyFours(20, 5),
		},
		{
			Name: "IPv6 clients are grouped by /64", Limit: 1, Window: time.Minute,
			Requests: []Request{
				{RemoteAddr: "[2001:db8:1:2::1]:1", Status: 200},
				{RemoteAddr: "[2001:db8:1:2:ffff::9]:1", Status: 429},
				{RemoteAddr: "[2001:db8:1:3::1]:1", Status: 200},
			},
		},
		{
			Name: "IETF RateLimit fields", Limit: 5, Window: time.Minute, IETF: true,
			Requests: []Request{
				{Advance: 20 * time.Second, Status: 200, Want: map[string]string{
					"RateLimit-Policy": `"default";q=5;w=60`, "RateLimit": `"default";r=4;t=40`, "X-RateLimit-Remaining": "4",
				}},
			},
		},
		{
			Name: "KV down fails open: decided from local counts", Limit: 1, Window: time.Minute, KVDown: true,
			Requests: []Request{
				{Status: 200, Want: map[string]string{"X-RateLimit-Remaining": "0"}},
				{Status: 429},
			},
		},
		{
			// Requests never wait for KV by default, so the limiter
			// learns of the outage at its next sync; until then a new
			// key is decided from local counts.
			Name: "KV down fails closed when configured, once the limiter's sync has failed", Limit: 5, Window: time.Minute,
			KVDown: true, FailClosed: true,
			Requests: []Request{
				{Status: 200, Want: map[string]string{"X-RateLimit-Remaining": "4"}},
				{Sync: true, Status: 503, Want: map[string]string{"X-RateLimit-Limit": ""}},
				{RemoteAddr: "198.51.100.9:1", Status: 503},
			},
		},
		{
			Name: "KV down fails closed from the first request with ReadOnRequest", Limit: 1, Window: time.Minute,
			KVDown: true, FailClosed: true, ReadOnRequest: true,
			Requests: []Request{{Status: 503, Want: map[string]string{"X-RateLimit-Limit": ""}}},
		},
		{
			Name: "per-request cost from the context", Limit: 5, Window: time.Minute, Algorithm: counter.FixedWindow,
			Requests: []Request{
				{Cost: 3, Status: 200, Want: map[string]string{"X-RateLimit-Remaining": "2"}},
				{Cost: 3, Status: 429, Want: map[string]string{"X-RateLimit-Remaining": "2"}},
				{Cost: 2, Status: 200, Want: map[string]string{"X-RateLimit-Remaining": "0"}},
			},
		},
		{
			Name: "a request without the key header is refused", Limit: 1, Window: time.Minute, ByHeader: "X-API-Key",
			Requests: []Request{
				{Status: 400},
				{Header: map[string]string{"X-API-Key": "a"}, Status: 200},
				{Header: map[string]string{"X-API-Key": "b"}, Status: 200},
				{Header: map[string]string{"X-API-Key": "a"}, Status: 429},
				{Header: map[string]string{"X-API-Key": strings.Repeat("k", kv.MaxKeySize)}, Status: 400,
					Want: map[string]string{"X-RateLimit-Limit": ""}},
			},
		},
	}
}

// Run runs every case against the middleware that build wires.
func Run(t *testing.T, build Build) {
	for _, tc := range Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			clock := kvtest.NewClock()
			calls := kvtest.NewCountingBulk(memory.New(memory.Options{Clock: clock.Now}))
			if tc.KVDown {
				calls.FailWith(errors.Join(kv.ErrUnavailable, errors.New("test: KV down")))
			}
			lim, err := counter.NewLimiter(calls, tc.Limit, tc.Window, counter.LimiterOptions{
				Algorithm: tc.Algorithm, Clock: clock.Now, Tick: make(chan time.Time),
				ReadOnRequest: tc.ReadOnRequest, KVTimeout: time.Second,
				Logger: slog.New(slog.DiscardHandler),
			})
			require.NoError(t, err)
			t.Cleanup(func() {
				calls.FailWith(nil)
				assert.NoError(t, lim.Close(context.Background()))
			})
			key := httpkey.ByIP(tc.Proxies)
			if tc.ByHeader != "" {
				key = httpkey.ByHeader(tc.ByHeader)
			}
			h := build(t, Setup{Limiter: lim, Key: key, FailClosed: tc.FailClosed, Headers: counter.Headers{IETF: tc.IETF}})

			for i, req := range tc.Requests {
				clock.Advance(req.Advance)
				if req.Sync {
					_ = lim.Flush(context.Background()) // its error is what the next requests see
				}
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.RemoteAddr = "203.0.113.7:1234"
				if req.RemoteAddr != "" {
					r.RemoteAddr = req.RemoteAddr
				}
				for k, v := range req.Header {
					r.Header.Set(k, v)
				}
				if req.Cost > 0 {
					r = r.WithContext(httpkey.WithCost(r.Context(), req.Cost))
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				assert.Equal(t, req.Status, w.Code, "request %d", i)
				if req.Status == http.StatusOK {
					assert.Equal(t, "ok", w.Body.String(), "request %d reached the handler", i)
				}
				for k, v := range req.Want {
					if v == "" {
						assert.Empty(t, w.Header().Values(k), "request %d: header %s", i, k)
						continue
					}
					assert.Equal(t, v, w.Header().Get(k), "request %d: header %s", i, k)
				}
			}
		})
	}
}

// lb is the load balancers' network in the proxy cases.
var lb = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}

// forgedThroughLB is n requests through a load balancer, each with a new
// forged CF-Connecting-IP, from one client: the first limit pass.
func forgedThroughLB(n, limit int) []Request {
	out := make([]Request, n)
	for i := range out {
		out[i] = Request{RemoteAddr: "10.0.0.9:1", Status: 200, Header: map[string]string{
			"X-Forwarded-For":  "203.0.113.50",
			"CF-Connecting-IP": "192.0.2." + strconv.Itoa(i+1),
		}}
		if i >= limit {
			out[i].Status = 429
		}
	}
	return out
}

// sixtyFours is n requests from n different /64s of one /48: the first
// limit pass.
func sixtyFours(n, limit int) []Request {
	out := make([]Request, n)
	for i := range out {
		out[i] = Request{RemoteAddr: "[2001:db8:77:" + strconv.FormatInt(int64(i), 16) + "::1]:1", Status: 200}
		if i >= limit {
			out[i].Status = 429
		}
	}
	return out
}
