// Package sessionhttp holds the response writer that the net/http and Echo
// session middleware share: it commits the session (KV write and
// Set-Cookie) before the first byte of the response goes out.
//
// A request's session, its Writer and the request carrying the session's
// context are one allocation: patterns/session allocates a Writer inside
// each session Start returns and hands it out through the session's
// context (Key), and Bind copies the request into it.
package sessionhttp

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
)

// Committer is the part of a session the Writer needs
// (session.Pending implements it).
type Committer interface {
	Commit(ctx context.Context) (*http.Cookie, error)
}

type keyType struct{}

// Key is the context key under which a session's context answers with the
// *Writer allocated with the session (nil when it has none).
var Key any = keyType{}

// For returns the Writer that came with the session whose context is ctx,
// or a new one when it has none (a Starter of another kind).
func For(ctx context.Context) *Writer {
	if w, _ := ctx.Value(Key).(*Writer); w != nil {
		return w
	}
	return new(Writer)
}

// Bind prepares w for one request: it will write to rw and commit p,
// reporting a failed commit started by the handler's output with onErr. It
// returns the request to hand on: a shallow copy of r carrying ctx, held in
// w itself, so that binding allocates nothing.
func (w *Writer) Bind(rw http.ResponseWriter, r *http.Request, ctx context.Context, p Committer, onErr func(w http.ResponseWriter, r *http.Request, err error)) *http.Request {
	w.W, w.Pending, w.OnError = rw, p, onErr
	w.req = *r.WithContext(ctx) // inlined: the copy WithContext makes stays on the stack
	return &w.req
}

// ErrCommitFailed is returned by Write after the session could not be
// saved: the error response has been sent instead of the handler's.
const ErrCommitFailed commitError = "session: response replaced by an error: the session could not be saved"

type commitError string

func (e commitError) Error() string { return string(e) }

const (
	statePending = iota
	stateCommitted
	stateFailed      // commit failed, the error response was written: drop the handler's output
	statePassthrough // commit failed, the caller writes its own error response
)

// Writer wraps a ResponseWriter and commits the session on the first
// WriteHeader, Write, ReadFrom, Flush or Hijack. It keeps http.Flusher,
// http.Hijacker and io.ReaderFrom working and unwraps for
// http.ResponseController.
type Writer struct {
	W       http.ResponseWriter
	Pending Committer
	// OnError writes the error response on the underlying writer when a
	// commit started by the handler's output fails.
	OnError func(w http.ResponseWriter, r *http.Request, err error)

	state       uint8
	wroteHeader bool // a status line went out (by WriteHeader, Write, ReadFrom or Flush)

	req http.Request // the request Bind returns: carries the context Commit runs with
}

// Commit commits the session if not done yet and adds its cookie. On
// failure it clears the headers the handler set and returns the error; the
// writer then passes writes straight through (for the caller's error
// response) unless Fail was used.
func (w *Writer) Commit() error {
	if w.state != statePending {
		return w.Err()
	}
	c, err := w.Pending.Commit(w.req.Context())
	if err != nil {
		w.state = statePassthrough
		clear(w.W.Header())
		return err
	}
	w.state = stateCommitted
	if c != nil {
		if v := c.String(); v != "" {
			h := w.W.Header()
			sessionAdd(h, "Set-Cookie", []string{v})
			// A response that sets a session cookie is that client's
			// alone: no cache may store it (OWASP Session Management
			// Cheat Sheet), whatever the handler allowed. The handler's
			// own directives are kept; no-store overrides them.
			addNoStore(h)
			addVary(h, "Cookie")
		}
	}
	return nil
}

// sessionAdd adds the values in one (canonical) header without a fresh
// slice when the header is not set yet.
func sessionAdd(h http.Header, key string, one []string) {
	if old := h[key]; len(old) > 0 {
		h[key] = append(old, one[0])
		return
	}
	h[key] = one
}

// addNoStore adds no-store to the Cache-Control of h, keeping what is
// there, in one field line.
func addNoStore(h http.Header) {
	old := h["Cache-Control"]
	for _, v := range old {
		for d := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(d, "=")
			if strings.EqualFold(strings.TrimSpace(name), "no-store") {
				return
			}
		}
	}
	var kept []string
	for _, v := range old {
		if v = strings.TrimSpace(v); v != "" {
			kept = append(kept, v)
		}
	}
	h["Cache-Control"] = []string{strings.Join(append(kept, "no-store"), ", ")}
}

// addVary adds name to the Vary of h unless it is listed already (in any
// case) or Vary is "*".
func addVary(h http.Header, name string) {
	for _, v := range h["Vary"] {
		for n := range strings.SplitSeq(v, ",") {
			if n = strings.TrimSpace(n); n == "*" || strings.EqualFold(n, name) {
				return
			}
		}
	}
	h["Vary"] = append(h["Vary"], name)
}

// Committed reports whether Commit has run (successfully or not).
func (w *Writer) Committed() bool { return w.state != statePending }

// Err returns the commit error, if any.
func (w *Writer) Err() error {
	if w.state == statePending || w.state == stateCommitted {
		return nil
	}
	// The commit failed; Pending keeps its first result (not copied here:
	// the Writer is part of the session's allocation, see Bind).
	_, err := w.Pending.Commit(w.req.Context())
	return err
}

// before commits ahead of the handler's first output and reports whether
// the output may go through.
func (w *Writer) before() bool {
	switch w.state {
	case stateCommitted, statePassthrough:
		return true
	case stateFailed:
		return false
	}
	if err := w.Commit(); err != nil {
		w.state = stateFailed
		w.OnError(w.W, &w.req, err)
		return false
	}
	return true
}

// Header implements http.ResponseWriter.
func (w *Writer) Header() http.Header { return w.W.Header() }

// WriteHeader implements http.ResponseWriter.
func (w *Writer) WriteHeader(code int) {
	// 1xx informational headers go out without committing.
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.W.WriteHeader(code)
		return
	}
	// Drop a second WriteHeader (e.g. Echo's after a Flush) rather than
	// have net/http log a superfluous call.
	if w.before() && !w.wroteHeader {
		w.wroteHeader = true
		w.W.WriteHeader(code)
	}
}

// Write implements http.ResponseWriter.
func (w *Writer) Write(p []byte) (int, error) {
	if !w.before() {
		return 0, ErrCommitFailed
	}
	w.wroteHeader = true
	return w.W.Write(p)
}

// ReadFrom implements io.ReaderFrom, keeping sendfile and friends.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	if !w.before() {
		return 0, ErrCommitFailed
	}
	w.wroteHeader = true
	if rf, ok := w.W.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{w.W}, r)
}

// Flush implements http.Flusher.
func (w *Writer) Flush() {
	if !w.before() {
		return
	}
	w.wroteHeader = true
	_ = http.NewResponseController(w.W).Flush()
}

// FlushError is what http.ResponseController calls first.
func (w *Writer) FlushError() error {
	if !w.before() {
		return ErrCommitFailed
	}
	w.wroteHeader = true
	return http.NewResponseController(w.W).Flush()
}

// Hijack implements http.Hijacker. The session is committed first, but the
// cookie cannot be sent on a hijacked connection.
func (w *Writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.before() {
		return nil, nil, ErrCommitFailed
	}
	return http.NewResponseController(w.W).Hijack()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *Writer) Unwrap() http.ResponseWriter { return w.W }

type writerOnly struct{ io.Writer }

var (
	_ http.Flusher        = (*Writer)(nil)
	_ http.Hijacker       = (*Writer)(nil)
	_ io.ReaderFrom       = (*Writer)(nil)
	_ http.ResponseWriter = (*Writer)(nil)
)
