package cache

import "net/http"

// headAsGET returns next run with a GET in place of a HEAD: a HEAD miss
// fills the cache with the GET response (RFC 9110 §9.3.2: the same header
// as a GET), and the client gets only its header, through headWriter.
func headAsGET(next Origin) Origin {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.Method == http.MethodHead {
			r = r.WithContext(r.Context())
			r.Method = http.MethodGet
		}
		return next(w, r)
	}
}

// headWriter is the client's writer for a HEAD whose handler renders a
// GET: it sends the header and drops the body.
type headWriter struct{ http.ResponseWriter }

// Write implements http.ResponseWriter: a HEAD response has no body.
func (h headWriter) Write(p []byte) (int, error) { return len(p), nil }

// Unwrap returns the underlying writer, for http.ResponseController.
func (h headWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }
