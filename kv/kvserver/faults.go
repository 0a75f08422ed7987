package kvserver

import (
	"net/http"
	"strconv"
	"time"
)

// Route names one endpoint of the API, for fault injection and request
// counts.
type Route string

// The routes the server answers.
const (
	RouteListNamespaces  Route = "namespaces.list"   // GET    …/namespaces
	RouteCreateNamespace Route = "namespaces.create" // POST   …/namespaces
	RouteGetNamespace    Route = "namespaces.get"    // GET    …/namespaces/{id}
	RouteRenameNamespace Route = "namespaces.rename" // PUT    …/namespaces/{id}
	RouteDeleteNamespace Route = "namespaces.delete" // DELETE …/namespaces/{id}
	RouteGetValue        Route = "values.get"        // GET    …/values/{key}
	RoutePutValue        Route = "values.put"        // PUT    …/values/{key}
	RouteDeleteValue     Route = "values.delete"     // DELETE …/values/{key}
	RouteGetMetadata     Route = "metadata.get"      // GET    …/metadata/{key}
	RouteListKeys        Route = "keys.list"         // GET    …/keys
	RouteBulkWrite       Route = "bulk.write"        // PUT    …/bulk
	RouteBulkDelete      Route = "bulk.delete"       // POST   …/bulk/delete
	RouteBulkGet         Route = "bulk.get"          // POST   …/bulk/get

	// RouteAny matches every route. Faults queued on it are used when the
	// request's own route has none queued.
	RouteAny Route = "*"
)

// Fault is one programmed response. Each request to a route takes the next
// queued fault, if any; the zero Fault handles the request normally.
type Fault struct {
	// Delay waits this long before answering (or failing), stopping early if
	// the client goes away. Use it for slow responses and timeouts.
	Delay time.Duration
	// Drop closes the connection without writing a response (after Delay).
	Drop bool
	// Status, when non-zero, answers with this HTTP status and a v4 error
	// envelope instead of handling the request. Nothing is stored.
	Status int
	// RetryAfter is sent as the Retry-After header (whole seconds, rounded
	// up) with Status. Zero sends none.
	RetryAfter time.Duration
	// Code and Message fill the envelope's error. Defaults: 10000 and the
	// status text, or Cloudflare's global rate-limit message for 429.
	Code    int
	Message string

	// EmptyPage answers a keys list with an empty page that is not complete
	// (as KV does when it skips expired and deleted keys): no keys, and a
	// cursor that resumes where the request started.
	EmptyPage bool
	// FailKeys makes a bulk write or delete report these keys as
	// unsuccessful (in unsuccessful_keys of a 200) and leave them untouched;
	// the other keys are written or deleted.
	FailKeys []string
}

// Inject queues faults for route, in order.
func (s *Server) Inject(route Route, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = append(s.faults[route], faults...)
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// Hits returns how many requests reached route (RouteAny: every route),
// faulted ones included, since the server started or ResetHits. Requests
// refused for a wrong token (401) are not counted.
func (s *Server) Hits(route Route) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if route == RouteAny {
		total := 0
		for _, n := range s.hits {
			total += n
		}
		return total
	}
	return s.hits[route]
}

// ResetHits sets every request count to zero.
func (s *Server) ResetHits() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.hits)
}

// take counts a request to route and pops its next fault.
func (s *Server) take(route Route) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits[route]++
	for _, r := range []Route{route, RouteAny} {
		if q := s.faults[r]; len(q) > 0 {
			f := q[0]
			s.faults[r] = q[1:]
			return f, true
		}
	}
	return Fault{}, false
}

// apply runs the parts of f that happen before (or instead of) handling.
// It reports whether the request has been answered.
func (f Fault) apply(w http.ResponseWriter, r *http.Request) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if f.Drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // HTTP/2 or a recorder: abort the stream
	}
	if f.Status != 0 {
		if f.RetryAfter > 0 {
			secs := (f.RetryAfter + time.Second - 1) / time.Second
			w.Header().Set("Retry-After", strconv.Itoa(int(secs)))
		}
		code, msg := f.Code, f.Message
		if code == 0 {
			code = codeGeneric
		}
		if msg == "" {
			msg = http.StatusText(f.Status)
			if f.Status == http.StatusTooManyRequests {
				msg = "More than 1200 requests per 300 seconds reached. Please wait and consider throttling your request speed"
			}
		}
		writeError(w, f.Status, code, msg)
		return true
	}
	return false
}
