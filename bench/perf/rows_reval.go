package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/cache"
)

// statusSide answers n copies of proto through h as the HTTP rows do (a
// fresh clone and recorder each time) and panics unless each is answered
// with code.
func statusSide(h http.Handler, proto *http.Request, code int) Side {
	return func(n int) {
		for range n {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, proto.Clone(proto.Context()))
			if w.Code != code {
				panic(fmt.Sprintf("status %d, want %d: %s", w.Code, code, w.Body))
			}
		}
	}
}

// rowResp304 compares a 304 answered from the cache (If-None-Match
// matching the stored ETag) with a cached 200 hit of the same 1 KiB entry.
func rowResp304(c *Config) (Line, error) {
	rc, err := cache.NewResponseCache(memory.New(memory.Options{}), cache.ResponseOptions{Logger: quiet})
	if err != nil {
		return Line{}, err
	}
	defer closeAll(rc)
	h := nethttp.Cache(rc)(bare)
	hit := httptest.NewRequest(http.MethodGet, "/items/42", nil)
	// Both requests carry a browser's usual headers, so that cloning them
	// costs both sides alike (a clone of an empty header is nearly free:
	// the 304's If-None-Match alone made it a quarter of the 304's time).
	hit.Header.Set("Accept", "text/html,*/*;q=0.8")
	hit.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) perf")
	hit.Header.Set("Accept-Language", "en")
	if err := check(h, hit, ""); err != nil {
		return Line{}, err
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hit.Clone(ctx))
	etag := w.Header().Get("Etag")
	if etag == "" {
		return Line{}, fmt.Errorf("no ETag on the hit")
	}
	cond := hit.Clone(ctx)
	cond.Header.Set("If-None-Match", etag)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, cond.Clone(ctx))
	if w.Code != http.StatusNotModified || w.Header().Get("Cache-Status") == "" {
		return Line{}, fmt.Errorf("conditional: status %d, Cache-Status %q", w.Code, w.Header().Get("Cache-Status"))
	}
	cmp := c.Compare("respcache-304", Pair{Ours: statusSide(h, cond, http.StatusNotModified), Ref: statusSide(h, hit, http.StatusOK)})
	l := ratioLine(cmp, 0.8, nil)
	l.Notes = fmt.Sprintf("%s; both from the in-process tier through nethttp.Cache, fresh request clone (Accept, User-Agent, Accept-Language; + If-None-Match for ours) and recorder per request", l.Notes)
	return l, nil
}

// loopback returns a Side that GETs url n times, one after another, over
// one kept-alive loopback connection, reading each body whole.
func loopback(client *http.Client, url string) Side {
	return func(n int) {
		for range n {
			resp, err := client.Get(url)
			if err != nil {
				panic(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || len(b) != len(body1K) {
				panic(fmt.Sprintf("status %d, %d bytes, %v", resp.StatusCode, len(b), err))
			}
		}
	}
}

// rowRespLoopback compares a cached hit served by a real http.Server over
// loopback with the bare handler behind the same kind of server. Client
// and server share the process, so the CPU time counts both ends.
func rowRespLoopback(c *Config) (Line, error) {
	rc, err := cache.NewResponseCache(memory.New(memory.Options{}), cache.ResponseOptions{Logger: quiet})
	if err != nil {
		return Line{}, err
	}
	defer closeAll(rc)
	ours := httptest.NewServer(nethttp.Cache(rc)(bare))
	defer ours.Close()
	ref := httptest.NewServer(bare)
	defer ref.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(ours.URL + "/items/42")
	if err != nil {
		return Line{}, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp, err = client.Get(ours.URL + "/items/42")
	if err != nil {
		return Line{}, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if st := resp.Header.Get("Cache-Status"); len(st) < 10 || st[:10] != "kvkit; hit" {
		return Line{}, fmt.Errorf("not a hit: Cache-Status %q", st)
	}
	cmp := c.Compare("respcache-loopback", Pair{Ours: loopback(client, ours.URL+"/items/42"), Ref: loopback(client, ref.URL+"/items/42")})
	l := ratioLine(cmp, 1/0.9, nil)
	l.Notes = fmt.Sprintf("%s; throughput %.2f× the bare handler's (target ≥ 0.9×: time ratio ≤ 1.11); sequential keep-alive GETs over loopback, client and server in one process (CPU time of both)",
		l.Notes, 1/cmp.Ratio)
	return l, nil
}
