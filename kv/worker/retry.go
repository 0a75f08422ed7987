package worker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/internal/retry"
)

// The error codes of the Worker's protocol (worker/README.md), each with
// the kv sentinel a Go caller matches with errors.Is.
const (
	CodeUnauthorized      = "unauthorized"       // 401: kv.ErrUnauthorized
	CodeInvalidKey        = "invalid_key"        // 400: kv.ErrInvalidKey
	CodeInvalidTTL        = "invalid_ttl"        // 400: kv.ErrInvalidTTL (expirationTtl or cacheTtl)
	CodeInvalidExpiration = "invalid_expiration" // 400: kv.ErrInvalidExpiration
	CodeInvalidMetadata   = "invalid_metadata"   // 400: kv.ErrInvalidMetadata
	CodeMetadataTooLarge  = "metadata_too_large" // 413: kv.ErrMetadataTooLarge
	CodeValueTooLarge     = "value_too_large"    // 413: kv.ErrValueTooLarge
	CodeInvalidBatch      = "invalid_batch"      // 400: kv.ErrInvalidBatch
	CodeInvalidLimit      = "invalid_limit"      // 400: kv.ErrInvalidLimit
	CodeKeyNotFound       = "key_not_found"      // 404: not an error, found == false
	CodeNotFound          = "not_found"          // 404: kv.ErrNotFound (no such route, no KV binding)
	CodeRateLimited       = "rate_limited"       // 429: kv.ErrRateLimited
	CodeUnavailable       = "unavailable"        // 503: kv.ErrUnavailable
	CodeInvalidRequest    = "invalid_request"    // 400: a malformed request (no sentinel)
	CodeRequestTooLarge   = "request_too_large"  // 413: a bulk body over MaxBulkBody (no sentinel)
)

// Error is the cause kvkit attaches to a call the Worker refused or that
// could not reach it: the kv sentinel for its class (nil for a malformed
// request), the HTTP status (0 for transport errors and for one key of a
// bulk write), the Worker's error code and message (the binding's own
// message when the binding refused the call), the server's Retry-After and
// the attempts made. errors.Is matches the sentinel.
type Error struct {
	Sentinel   error
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	Attempts   int
	Cause      error // the transport error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Sentinel != nil {
		b.WriteString(strings.TrimPrefix(e.Sentinel.Error(), "kv: "))
		b.WriteString(": ")
	}
	switch {
	case e.Status != 0:
		b.WriteString("HTTP ")
		b.WriteString(strconv.Itoa(e.Status))
		if e.Code != "" {
			b.WriteString(" ")
			b.WriteString(e.Code)
		}
		if e.Message != "" {
			b.WriteString(": ")
			b.WriteString(e.Message)
		}
	case e.Cause != nil:
		b.WriteString(e.Cause.Error())
	default:
		if e.Code != "" {
			b.WriteString(e.Code)
			b.WriteString(": ")
		}
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after ")
		b.WriteString(e.RetryAfter.String())
		b.WriteString(")")
	}
	if e.Attempts > 1 {
		b.WriteString(" after ")
		b.WriteString(strconv.Itoa(e.Attempts))
		b.WriteString(" attempts")
	}
	return b.String()
}

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Sentinel != nil {
		out = append(out, e.Sentinel)
	}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	return out
}

// RetryAfter reports how long the Worker asked the caller to wait before
// the call that returned err may be tried again (a 429's Retry-After).
func RetryAfter(err error) (time.Duration, bool) {
	var we *Error
	if errors.As(err, &we) && we.RetryAfter > 0 {
		return we.RetryAfter, true
	}
	return 0, false
}

func transport(err error) error {
	return &Error{Sentinel: kv.ErrUnavailable, Cause: err, Attempts: 1}
}

// sentinelOf maps a Worker error code (or, without one, an HTTP status) to
// the kv sentinel.
func sentinelOf(code string, status int) error {
	switch code {
	case CodeUnauthorized:
		return kv.ErrUnauthorized
	case CodeInvalidKey:
		return kv.ErrInvalidKey
	case CodeInvalidTTL:
		return kv.ErrInvalidTTL
	case CodeInvalidExpiration:
		return kv.ErrInvalidExpiration
	case CodeInvalidMetadata:
		return kv.ErrInvalidMetadata
	case CodeMetadataTooLarge:
		return kv.ErrMetadataTooLarge
	case CodeValueTooLarge:
		return kv.ErrValueTooLarge
	case CodeInvalidBatch:
		return kv.ErrInvalidBatch
	case CodeInvalidLimit:
		return kv.ErrInvalidLimit
	case CodeNotFound:
		return kv.ErrNotFound
	case CodeRateLimited:
		return kv.ErrRateLimited
	case CodeUnavailable:
		return kv.ErrUnavailable
	case CodeInvalidRequest, CodeRequestTooLarge:
		return nil
	}
	switch {
	case status == http.StatusTooManyRequests:
		return kv.ErrRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return kv.ErrUnauthorized
	case status == http.StatusNotFound:
		return kv.ErrNotFound
	case status == http.StatusRequestTimeout || status >= 500:
		return kv.ErrUnavailable
	}
	return nil
}

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// classify reads an error response into an *Error. again reports whether
// another attempt may succeed.
func classify(res *http.Response) (we *Error, again bool) {
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	_ = res.Body.Close()
	we = &Error{Status: res.StatusCode}
	var msg struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &msg) == nil && msg.Code != "" {
		we.Code, we.Message = msg.Code, msg.Message
	} else if len(body) > 0 {
		// Not the Worker speaking (a proxy, Cloudflare's own error page):
		// keep the start of what it said.
		s := string(body)
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		we.Message = s
	}
	we.Sentinel = sentinelOf(we.Code, res.StatusCode)
	we.RetryAfter = retry.ParseRetryAfter(res.Header, time.Now())
	_, again = retry.Status(res.StatusCode)
	return we, again
}

// attempt sends one request and counts it. When net/http writes it more
// than once (it replays an idempotent request whose kept-alive connection
// turned out to be closed), the extra writes are counted as replays. The
// Worker's KV-Operations header is added to the KV operation count.
func (n *Namespace) attempt(ctx context.Context, op int, build func(ctx context.Context) (*http.Request, error)) (*http.Response, error) {
	var writes atomic.Int64
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { writes.Add(1) },
	})
	req, err := build(ctx)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", n.auth)
	// Every request of the protocol is idempotent: an empty Idempotency-Key
	// (not sent) lets net/http replay one whose reused keep-alive
	// connection turns out to be closed (workerd closes connections without
	// saying so, e.g. after answering before reading a body).
	req.Header["Idempotency-Key"] = []string{}
	res, err := n.hc.Do(req)
	n.counts[op].Add(1)
	if w := writes.Load(); w > 1 {
		n.replays.Add(w - 1)
	}
	if err == nil {
		if v, perr := strconv.ParseInt(res.Header.Get("KV-Operations"), 10, 64); perr == nil && v > 0 {
			n.kvOps.Add(v)
		}
	}
	return res, err
}

// do makes one call with the retry policy and returns the successful
// response (2xx, body unread) or an error: a context error, or an *Error.
func (n *Namespace) do(ctx context.Context, op int, build func(ctx context.Context) (*http.Request, error)) (*http.Response, error) {
	return n.call(ctx, op, build, n.policy.MaxAttempts)
}

// doOnce is do without retries, for requests whose body cannot be sent
// again.
func (n *Namespace) doOnce(ctx context.Context, op int, build func(ctx context.Context) (*http.Request, error)) (*http.Response, error) {
	return n.call(ctx, op, build, 1)
}

func (n *Namespace) call(ctx context.Context, op int, build func(ctx context.Context) (*http.Request, error), attempts int) (*http.Response, error) {
	var out *http.Response
	err := n.policy.Do(ctx, attempts, func(ctx context.Context, attempt int) (retry.Verdict, error) {
		res, err := n.attempt(ctx, op, build)
		var we *Error
		again := false
		switch {
		case err != nil && ctx.Err() != nil:
			return retry.Verdict{}, ctx.Err()
		case err != nil:
			we, again = &Error{Sentinel: kv.ErrUnavailable, Cause: err}, true
		case res.StatusCode < 300:
			out = res
			return retry.Verdict{}, nil
		default:
			we, again = classify(res)
		}
		we.Attempts = attempt
		if we.Code == CodeKeyNotFound {
			again = false
		}
		return retry.Verdict{Retry: again, RetryAfter: we.RetryAfter}, we
	}, func(attempt int, wait time.Duration, err error) {
		n.opts.Logger.Debug("kvkit/worker: retrying", "endpoint", opNames[op], "attempt", attempt, "wait", wait, "err", err)
		n.retrs.Add(1)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// doJSON is do for calls that answer JSON, decoded into out.
func (n *Namespace) doJSON(ctx context.Context, op int, build func(ctx context.Context) (*http.Request, error), out any) error {
	res, err := n.do(ctx, op, build)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(out); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &Error{Sentinel: kv.ErrUnavailable, Status: res.StatusCode, Message: "malformed answer from the Worker: " + err.Error(), Attempts: 1}
	}
	return nil
}
