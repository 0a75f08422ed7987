package cloudflare

import (
	"bytes"
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

	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/shared"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/internal/retry"
)

// APIError is the cause kvkit attaches to a failed API call: the kv sentinel
// for its class (kv.ErrRateLimited, kv.ErrUnauthorized, kv.ErrUnavailable,
// kv.ErrNotFound, or nil for other 4xx), the HTTP status and the API's error
// codes and messages. errors.Is matches the sentinel. Cause is the SDK's
// error (a *cloudflare.Error of the SDK's root package, for programs that
// import it) or the transport error.
type APIError struct {
	Sentinel   error              // the kv sentinel, or nil
	Status     int                // HTTP status; 0 for transport errors
	Errors     []shared.ErrorData // the envelope's errors: Code and Message
	RetryAfter time.Duration      // the server's Retry-After; 0 when none
	Attempts   int                // HTTP requests made for the call
	Cause      error              // the SDK's error or the transport error
}

func (e *APIError) Error() string {
	var b strings.Builder
	if e.Sentinel != nil {
		b.WriteString(strings.TrimPrefix(e.Sentinel.Error(), "kv: "))
		b.WriteString(": ")
	}
	switch {
	case e.Status != 0:
		b.WriteString("HTTP ")
		b.WriteString(strconv.Itoa(e.Status))
		for _, d := range e.Errors {
			b.WriteString(" [")
			b.WriteString(strconv.FormatInt(d.Code, 10))
			b.WriteString("] ")
			b.WriteString(d.Message)
		}
	case e.Cause != nil:
		b.WriteString(e.Cause.Error())
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
func (e *APIError) Unwrap() []error {
	if e.Sentinel == nil {
		return []error{e.Cause}
	}
	return []error{e.Sentinel, e.Cause}
}

// RetryAfter reports how long the server asked the caller to wait before the
// call that returned err may be tried again (a 429's Retry-After header).
func RetryAfter(err error) (time.Duration, bool) {
	var ae *APIError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		return ae.RetryAfter, true
	}
	return 0, false
}

// wire is what observe saw of one attempt's response.
type wire struct {
	status int
	header http.Header
	errors []shared.ErrorData
}

type wireKey struct{}

// maxErrorBody bounds how much of an error response observe reads.
const maxErrorBody = 1 << 20

// observe is an SDK middleware: it records the status, headers and envelope
// errors of an error response into the attempt's *wire (found in the
// request's context), and hands the SDK an unread copy of the body. It lets
// kvkit classify errors without the SDK's error type, which lives in the
// SDK's root package.
func observe(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	res, err := next(req)
	w, _ := req.Context().Value(wireKey{}).(*wire)
	if w == nil || err != nil || res == nil {
		return res, err
	}
	w.status, w.header = res.StatusCode, res.Header
	if res.StatusCode < 400 || res.Body == nil {
		return res, nil
	}
	body, rerr := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return res, nil
	}
	var env struct {
		Errors []shared.ErrorData `json:"errors"`
	}
	if json.Unmarshal(body, &env) == nil {
		w.errors = env.Errors
	}
	return res, nil
}

// classify turns a failed attempt into an *APIError. w is what observe saw
// of its response (status 0: no response, a transport error). again reports
// whether another attempt may succeed.
func classify(err error, w *wire) (ae *APIError, again bool) {
	if w.status >= 400 {
		ae = &APIError{Status: w.status, Errors: w.errors, Cause: err}
		if w.header != nil {
			ae.RetryAfter = retry.ParseRetryAfter(w.header, time.Now())
		}
		ae.Sentinel, again = retry.Status(w.status)
		return ae, again
	}
	// Transport errors: connection refused or reset, a dropped response.
	return &APIError{Sentinel: kv.ErrUnavailable, Cause: err}, true
}

// attempt makes one attempt and counts the requests it put on the wire: one,
// or more when net/http replays an idempotent request after a keep-alive
// connection died under it (it does so below the SDK, so only an httptrace
// hook sees it). An attempt that never reached the wire still counts once.
func (n *Namespace) attempt(ctx context.Context, op int, w *wire, call func(ctx context.Context) error) error {
	var writes atomic.Int64
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { writes.Add(1) },
	})
	err := call(context.WithValue(ctx, wireKey{}, w))
	n.counts[op].Add(max(1, writes.Load()))
	return err
}

// do runs one API call with the retry policy. op names the counter to bump
// and the kv.Error; call makes one HTTP request (the SDK's own retries are
// off). It returns nil, a context error, or an *APIError.
func (n *Namespace) do(ctx context.Context, op int, call func(ctx context.Context) error) error {
	return n.policy.Do(ctx, n.policy.MaxAttempts, func(ctx context.Context, attempt int) (retry.Verdict, error) {
		var w wire
		err := n.attempt(ctx, op, &w, call)
		if err == nil {
			return retry.Verdict{}, nil
		}
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return retry.Verdict{}, ctx.Err()
		}
		ae, again := classify(err, &w)
		ae.Attempts = attempt
		return retry.Verdict{Retry: again, RetryAfter: ae.RetryAfter}, ae
	}, func(attempt int, wait time.Duration, err error) {
		n.log.Debug("kvkit/cloudflare: retrying", "endpoint", opNames[op], "attempt", attempt, "wait", wait, "err", err)
		n.retries.Add(1)
	})
}
