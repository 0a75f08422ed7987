package worker

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/internal/retry"
)

// Limits of the Worker's protocol (worker/README.md). They are the Worker's
// own, below KV's: a Worker may make 1,000 KV operations per invocation and
// has 128 MB of memory.
const (
	// MaxBulkWritePerRequest is the most pairs (or keys) one bulk write
	// request carries: each is one KV operation inside the Worker. PutBulk
	// and DeleteBulk split larger batches.
	MaxBulkWritePerRequest = 1000
	// MaxBulkBody is the largest JSON body the Worker reads for a bulk
	// call. PutBulk packs pairs into bodies of at most this size.
	MaxBulkBody = 16 << 20
	// bulkValueLimit: larger values in a PutBulk are written with their own
	// streaming PUT rather than inside a JSON body.
	bulkValueLimit = 1 << 20
)

// Options tunes a Namespace. The zero value means the defaults.
type Options struct {
	// MaxAttempts bounds the HTTP requests made for one call, the first
	// included. Only 429, 408, 5xx and transport errors are retried.
	// Default: 4.
	MaxAttempts int
	// BaseBackoff is the wait before the first retry; each later retry
	// doubles it, with jitter. Default: 200ms.
	BaseBackoff time.Duration
	// MaxBackoff caps the computed backoff. Default: 5s.
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the Namespace waits out; a
	// 429 asking for longer fails at once with kv.ErrRateLimited, and
	// [RetryAfter] reads the wait from the error. Default: 30s.
	MaxRetryAfter time.Duration
	// Clock returns the current time, used to validate absolute
	// expirations before a request is made. Default: time.Now.
	Clock func() time.Time
	// Sleep waits between attempts and returns ctx.Err() if ctx ends first.
	// Tests replace it to record the waits instead of sleeping.
	// Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// HTTPClient sends the requests. Its Timeout bounds a whole call,
	// reading a streamed value included. Default: an http.Client with a
	// 60s timeout.
	HTTPClient *http.Client
	// Logger receives a Debug line per retry. Default: discard.
	Logger *slog.Logger
}

func (o *Options) fill() {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// retryPolicy is o's retry settings, with their defaults.
func (o *Options) retryPolicy() (retry.Policy, error) {
	p := retry.Policy{MaxAttempts: o.MaxAttempts, BaseBackoff: o.BaseBackoff, MaxBackoff: o.MaxBackoff, MaxRetryAfter: o.MaxRetryAfter, Sleep: o.Sleep}
	err := p.Fill(200*time.Millisecond, 5*time.Second)
	return p, err
}

// Namespace is the KV namespace bound to kvkit's Worker (worker/ in this
// repository), reached over HTTP. It implements kv.Namespace,
// kv.BulkNamespace and kv.StreamNamespace and is safe for concurrent use.
type Namespace struct {
	base    string // the Worker's URL, without a trailing slash
	auth    string // "Bearer " + secret
	hc      *http.Client
	opts    Options
	policy  retry.Policy
	counts  [numOps]atomic.Int64
	kvOps   atomic.Int64
	retrs   atomic.Int64
	replays atomic.Int64
}

var (
	_ kv.Namespace       = (*Namespace)(nil)
	_ kv.BulkNamespace   = (*Namespace)(nil)
	_ kv.StreamNamespace = (*Namespace)(nil)
)

// MinSecretLength is the shortest secret the Worker accepts (it refuses
// every request while its KVKIT_SECRET is shorter). Use 32 random bytes:
// openssl rand -base64 32.
const MinSecretLength = 16

// New returns the namespace bound to the Worker at workerURL (an https URL,
// or http to a loopback address for local development, e.g. wrangler dev),
// authenticated with secret, the Worker's KVKIT_SECRET (or
// KVKIT_SECRET_NEXT while rotating).
func New(workerURL, secret string, opts Options) (*Namespace, error) {
	base, err := checkURL(workerURL)
	if err != nil {
		return nil, &kv.Error{Op: "new", Err: invalid(err.Error())}
	}
	if err := checkSecret(secret); err != nil {
		return nil, &kv.Error{Op: "new", Err: invalid(err.Error())}
	}
	opts.fill()
	policy, err := opts.retryPolicy()
	if err != nil {
		return nil, &kv.Error{Op: "new", Err: invalid(err.Error())}
	}
	return &Namespace{base: base, auth: "Bearer " + secret, hc: opts.HTTPClient, opts: opts, policy: policy}, nil
}

func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("worker URL " + strconv.Quote(raw) + " must be an http(s) URL without query")
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return "", errors.New("worker URL " + strconv.Quote(raw) + ": plain http only to a loopback address (the secret would travel in clear)")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func loopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

func checkSecret(s string) error {
	switch {
	case len(s) < MinSecretLength:
		return errors.New("secret must be at least " + strconv.Itoa(MinSecretLength) + " characters")
	case strings.ContainsAny(s, " \t\r\n"):
		return errors.New("secret contains whitespace")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return errors.New("secret must be printable ASCII")
		}
	}
	return nil
}

type detailErr struct {
	sentinel error
	msg      string
}

func (d *detailErr) Error() string { return d.sentinel.Error() + ": " + d.msg }
func (d *detailErr) Unwrap() error { return d.sentinel }

func invalid(msg string) error { return &detailErr{kv.ErrInvalidOptions, msg} }

// URL returns the Worker's URL.
func (n *Namespace) URL() string { return n.base }

func fail(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var ke *kv.Error
	if errors.As(err, &ke) && ke.Op == op {
		return err
	}
	return &kv.Error{Op: op, Key: key, Err: err}
}

// checkKey validates key before any request. Besides KV's rules, a key must
// be valid UTF-8: the binding takes JavaScript strings, which cannot hold
// other bytes.
func checkKey(op, key string) error {
	if err := kv.ValidateKey(key); err != nil {
		return &kv.Error{Op: op, Key: key, Err: err}
	}
	if !utf8.ValidString(key) {
		return &kv.Error{Op: op, Key: key, Err: &detailErr{kv.ErrInvalidKey, "key is not valid UTF-8 (a Worker's KV binding takes text keys)"}}
	}
	return nil
}

func checkEdge(op, key string, opts kv.GetOptions) error {
	if opts.EdgeCacheTTL == 0 {
		return nil
	}
	if err := kv.ValidateEdgeCacheTTL(opts.EdgeCacheTTL); err != nil {
		return &kv.Error{Op: op, Key: key, Err: err}
	}
	return nil
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// valueURL is the URL of GET, PUT and DELETE /v1/value.
func (n *Namespace) valueURL(key string, q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	q.Set("key", key)
	return n.base + "/v1/value?" + q.Encode()
}

// Get implements kv.Namespace: one request. With opts.WithMetadata the
// Worker also lists the key to learn its expiration (the binding's get does
// not return it): two KV operations, still one request. Without it,
// Expiration is left zero.
func (n *Namespace) Get(ctx context.Context, key string, opts kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	if err := checkKey("get", key); err != nil {
		return kv.Entry[[]byte]{}, false, err
	}
	if err := checkEdge("get", key, opts); err != nil {
		return kv.Entry[[]byte]{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return kv.Entry[[]byte]{}, false, fail("get", key, err)
	}
	res, found, err := n.open(ctx, key, opts)
	if err != nil || !found {
		return kv.Entry[[]byte]{}, false, fail("get", key, err)
	}
	defer res.Body.Close()
	value, err := io.ReadAll(io.LimitReader(res.Body, kv.MaxValueSize+1))
	if err != nil {
		return kv.Entry[[]byte]{}, false, fail("get", key, transport(err))
	}
	if value == nil {
		value = []byte{}
	}
	it := kv.Entry[[]byte]{Key: key, Value: value}
	if opts.WithMetadata {
		if it.Metadata, err = metadataHeader(res.Header); err != nil {
			return kv.Entry[[]byte]{}, false, fail("get", key, err)
		}
		it.Expiration = expirationHeader(res.Header)
	}
	return it, true, nil
}

// open GETs /v1/value and returns the response with its body unread.
func (n *Namespace) open(ctx context.Context, key string, opts kv.GetOptions) (*http.Response, bool, error) {
	q := url.Values{}
	if opts.EdgeCacheTTL != 0 {
		q.Set("cacheTtl", seconds(opts.EdgeCacheTTL))
	}
	if opts.WithMetadata {
		q.Set("metadata", "1")
	}
	u := n.valueURL(key, q)
	res, err := n.do(ctx, opGet, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	})
	var we *Error
	if errors.As(err, &we) && we.Code == CodeKeyNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return res, true, nil
}

func metadataHeader(h http.Header) (json.RawMessage, error) {
	raw := h.Get("KV-Metadata")
	if raw == "" {
		return nil, nil
	}
	s, err := url.PathUnescape(raw)
	if err != nil || !json.Valid([]byte(s)) {
		return nil, &Error{Sentinel: kv.ErrUnavailable, Message: "malformed KV-Metadata header from the Worker", Attempts: 1}
	}
	if s == "null" {
		return nil, nil
	}
	return json.RawMessage(s), nil
}

func expirationHeader(h http.Header) time.Time {
	if v := h.Get("KV-Expiration"); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs > 0 {
			return time.Unix(secs, 0)
		}
	}
	return time.Time{}
}

// GetStream implements kv.StreamNamespace: the body of one GET, unbuffered,
// with KV's default edge cache TTL. The caller closes it.
func (n *Namespace) GetStream(ctx context.Context, key string) (io.ReadCloser, bool, error) {
	if err := checkKey("get", key); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, fail("get", key, err)
	}
	res, found, err := n.open(ctx, key, kv.GetOptions{})
	if err != nil || !found {
		return nil, false, fail("get", key, err)
	}
	return res.Body, true, nil
}

// putQuery returns the expiration parameters of a write.
func putQuery(opts kv.PutOptions) url.Values {
	q := url.Values{}
	switch {
	case opts.TTL != 0:
		q.Set("expirationTtl", seconds(opts.TTL))
	case !opts.Expiration.IsZero():
		q.Set("expiration", strconv.FormatInt(opts.Expiration.Unix(), 10))
	}
	return q
}

func hasMetadata(m json.RawMessage) bool {
	return len(m) > 0 && !bytes.Equal(bytes.TrimSpace(m), []byte("null"))
}

// Put implements kv.Namespace: one PUT whose body is the value.
func (n *Namespace) Put(ctx context.Context, key string, value []byte, opts kv.PutOptions) error {
	if err := checkKey("put", key); err != nil {
		return err
	}
	if err := kv.ValidatePut(key, len(value), opts, n.opts.Clock()); err != nil {
		return fail("put", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fail("put", key, err)
	}
	return fail("put", key, n.put(ctx, opPut, key, value, opts))
}

func (n *Namespace) put(ctx context.Context, op int, key string, value []byte, opts kv.PutOptions) error {
	u := n.valueURL(key, putQuery(opts))
	res, err := n.do(ctx, op, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(value))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		if hasMetadata(opts.Metadata) {
			req.Header.Set("KV-Metadata", url.PathEscape(string(opts.Metadata)))
		}
		return req, nil
	})
	if err != nil {
		return err
	}
	drain(res)
	return nil
}

// PutStream implements kv.StreamNamespace. A value of up to 1 MiB is read
// first and sent as Put sends it (retried like Put). A larger one streams
// to the Worker, never held whole here; the Worker refuses it as soon as it
// passes kv.MaxValueSize, and stores nothing when the upload fails midway
// (a read error of r, a broken connection). A streamed upload cannot be
// replayed, so it is not retried.
func (n *Namespace) PutStream(ctx context.Context, key string, r io.Reader, opts kv.PutOptions) error {
	if err := checkKey("put", key); err != nil {
		return err
	}
	if err := kv.ValidatePut(key, 0, opts, n.opts.Clock()); err != nil {
		return fail("put", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fail("put", key, err)
	}
	head, err := io.ReadAll(io.LimitReader(r, bulkValueLimit+1))
	if err != nil {
		return fail("put", key, err)
	}
	if len(head) <= bulkValueLimit {
		return fail("put", key, n.put(ctx, opPut, key, head, opts))
	}
	body := &limitReader{r: io.MultiReader(bytes.NewReader(head), r), left: kv.MaxValueSize + 1}
	u := n.valueURL(key, putQuery(opts))
	res, err := n.doOnce(ctx, opPut, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, body)
		if err != nil {
			return nil, err
		}
		req.ContentLength = -1 // unknown: chunked
		req.Header.Set("Content-Type", "application/octet-stream")
		if hasMetadata(opts.Metadata) {
			req.Header.Set("KV-Metadata", url.PathEscape(string(opts.Metadata)))
		}
		return req, nil
	})
	if body.over {
		// Whatever the Worker or the transport made of the cut upload, the
		// value was too large and KV stored nothing.
		if res != nil {
			drain(res)
		}
		return &kv.Error{Op: "put", Key: key, Err: kv.ValidateValue(kv.MaxValueSize + 1)}
	}
	if err != nil {
		return fail("put", key, err)
	}
	drain(res)
	return nil
}

var errTooLarge = errors.New("value larger than 25 MiB")

// limitReader passes up to MaxValueSize+1 bytes, so that the Worker sees
// an oversized value for what it is, then fails.
type limitReader struct {
	r    io.Reader
	left int64 // bytes still allowed through, the one over the limit included
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.over = true
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// Delete implements kv.Namespace. Deleting a missing key is not an error.
func (n *Namespace) Delete(ctx context.Context, key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fail("delete", key, err)
	}
	u := n.valueURL(key, nil)
	res, err := n.do(ctx, opDelete, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	})
	if err != nil {
		return fail("delete", key, err)
	}
	drain(res)
	return nil
}

// List implements kv.Namespace: one request for one page. Cursors are the
// binding's, tagged by the Worker: a cursor it did not issue starts the
// listing over.
func (n *Namespace) List(ctx context.Context, req kv.ListOptions) (kv.Page, error) {
	if req.Limit < 0 || req.Limit > kv.MaxListLimit {
		return kv.Page{}, &kv.Error{Op: "list", Key: req.Prefix, Err: kv.ErrInvalidLimit}
	}
	if len(req.Prefix) > kv.MaxKeySize || !utf8.ValidString(req.Prefix) {
		return kv.Page{}, &kv.Error{Op: "list", Key: req.Prefix, Err: &detailErr{kv.ErrInvalidKey, "prefix is over 512 bytes or not UTF-8"}}
	}
	if err := ctx.Err(); err != nil {
		return kv.Page{}, fail("list", req.Prefix, err)
	}
	q := url.Values{}
	if req.Prefix != "" {
		q.Set("prefix", req.Prefix)
	}
	if req.Limit != 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if req.Cursor != "" {
		q.Set("cursor", req.Cursor)
	}
	u := n.base + "/v1/list?" + q.Encode()
	var page struct {
		Keys []struct {
			Name       string          `json:"name"`
			Expiration int64           `json:"expiration"`
			Metadata   json.RawMessage `json:"metadata"`
		} `json:"keys"`
		Complete bool   `json:"complete"`
		Cursor   string `json:"cursor"`
	}
	err := n.doJSON(ctx, opList, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	}, &page)
	if err != nil {
		return kv.Page{}, fail("list", req.Prefix, err)
	}
	out := kv.Page{Keys: make([]kv.KeyInfo, len(page.Keys)), Complete: page.Complete}
	if !page.Complete {
		out.Cursor = page.Cursor
		if out.Cursor == "" {
			return kv.Page{}, fail("list", req.Prefix, &Error{Sentinel: kv.ErrUnavailable, Message: "the Worker sent an incomplete page without a cursor", Attempts: 1})
		}
	}
	for i, k := range page.Keys {
		ki := kv.KeyInfo{Name: k.Name}
		if k.Expiration > 0 {
			ki.Expiration = time.Unix(k.Expiration, 0)
		}
		if hasMetadata(k.Metadata) {
			ki.Metadata = k.Metadata
		}
		out.Keys[i] = ki
	}
	return out, nil
}

// bulkEntry is one entry of a bulk read's answer.
type bulkEntry struct {
	Key        string          `json:"key"`
	Value      string          `json:"value"`
	Base64     bool            `json:"base64"`
	Metadata   json.RawMessage `json:"metadata"`
	Expiration int64           `json:"expiration"`
}

// GetBulk implements kv.BulkNamespace: one request for up to 100 keys, one
// binding call inside the Worker (plus, with opts.WithMetadata, one list
// per key found, for its expiration). Values that are not UTF-8 arrive
// intact: the Worker re-reads them as bytes. If the values together are
// too large for one bulk read (the binding caps it at 25 MB), the keys are
// read one by one.
func (n *Namespace) GetBulk(ctx context.Context, keys []string, opts kv.GetOptions) (map[string]kv.Entry[[]byte], error) {
	if err := kv.ValidateBatch(len(keys), kv.MaxBulkGet); err != nil {
		return nil, &kv.Error{Op: "get-bulk", Err: err}
	}
	for _, k := range keys {
		if err := checkKey("get-bulk", k); err != nil {
			return nil, err
		}
	}
	if err := checkEdge("get-bulk", "", opts); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fail("get-bulk", "", err)
	}
	req := struct {
		Keys     []string `json:"keys"`
		CacheTTL int64    `json:"cacheTtl,omitempty"`
		Metadata bool     `json:"metadata,omitempty"`
	}{dedupe(keys), int64(opts.EdgeCacheTTL / time.Second), opts.WithMetadata}
	body, _ := json.Marshal(req)
	var res struct {
		Entries []bulkEntry `json:"entries"`
	}
	err := n.doJSON(ctx, opBulkGet, jsonRequest(n.base+"/v1/bulk/get", body), &res)
	if errors.Is(err, kv.ErrValueTooLarge) {
		return n.getOneByOne(ctx, req.Keys, opts)
	}
	if err != nil {
		return nil, fail("get-bulk", "", err)
	}
	out := make(map[string]kv.Entry[[]byte], len(res.Entries))
	for _, e := range res.Entries {
		it := kv.Entry[[]byte]{Key: e.Key, Value: []byte(e.Value)}
		if e.Base64 {
			if it.Value, err = base64.StdEncoding.DecodeString(e.Value); err != nil {
				return nil, fail("get-bulk", e.Key, &Error{Sentinel: kv.ErrUnavailable, Message: "malformed base64 value from the Worker", Attempts: 1})
			}
		}
		if opts.WithMetadata && hasMetadata(e.Metadata) {
			it.Metadata = e.Metadata
		}
		if e.Expiration > 0 {
			it.Expiration = time.Unix(e.Expiration, 0)
		}
		out[e.Key] = it
	}
	return out, nil
}

func (n *Namespace) getOneByOne(ctx context.Context, keys []string, opts kv.GetOptions) (map[string]kv.Entry[[]byte], error) {
	out := make(map[string]kv.Entry[[]byte], len(keys))
	for _, k := range keys {
		it, found, err := n.Get(ctx, k, opts)
		if err != nil {
			return nil, fail("get-bulk", k, err)
		}
		if found {
			out[k] = it
		}
	}
	return out, nil
}

func dedupe(keys []string) []string {
	seen := make(map[string]struct{}, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			out = append(out, k)
		}
	}
	return out
}

func jsonRequest(u string, body []byte) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	}
}

// bulkPair is one pair of a bulk write as the Worker takes it.
type bulkPair struct {
	Key           string          `json:"key"`
	Value         string          `json:"value"`
	Base64        bool            `json:"base64,omitempty"`
	Expiration    int64           `json:"expiration,omitempty"`
	ExpirationTTL int64           `json:"expirationTtl,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
}

// failure is one key a bulk write could not write or delete.
type failure struct {
	Key     string `json:"key"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// PutBulk implements kv.BulkNamespace. The binding has no bulk write, so
// the Worker writes the pairs one by one: PutBulk sends them in requests of
// at most MaxBulkWritePerRequest pairs and MaxBulkBody bytes (Workers allow
// 1,000 KV operations per invocation), and values over 1 MiB with their own
// streaming PUT. Every pair is validated before the first request; keys
// that fail make a *kv.BulkError listing them.
func (n *Namespace) PutBulk(ctx context.Context, pairs []kv.Pair) error {
	if err := kv.ValidateBatch(len(pairs), kv.MaxBulkWrite); err != nil {
		return &kv.Error{Op: "put-bulk", Err: err}
	}
	now := n.opts.Clock()
	var chunks [][]byte
	var chunkKeys [][]string
	var large []kv.Pair
	var cur bytes.Buffer
	var curKeys []string
	flush := func() {
		if len(curKeys) == 0 {
			return
		}
		cur.WriteByte(']')
		chunks = append(chunks, bytes.Clone(cur.Bytes()))
		chunkKeys = append(chunkKeys, curKeys)
		cur.Reset()
		curKeys = nil
	}
	for _, p := range pairs {
		if err := checkKey("put-bulk", p.Key); err != nil {
			return err
		}
		if err := kv.ValidatePut(p.Key, len(p.Value), p.PutOptions, now); err != nil {
			return &kv.Error{Op: "put-bulk", Key: p.Key, Err: err}
		}
		if len(p.Value) > bulkValueLimit {
			large = append(large, p)
			continue
		}
		enc := encodePair(p)
		if len(curKeys) == MaxBulkWritePerRequest || (len(curKeys) > 0 && cur.Len()+1+len(enc)+1 > MaxBulkBody) {
			flush()
		}
		if len(curKeys) == 0 {
			cur.WriteByte('[')
		} else {
			cur.WriteByte(',')
		}
		cur.Write(enc)
		curKeys = append(curKeys, p.Key)
	}
	flush()
	if err := ctx.Err(); err != nil {
		return fail("put-bulk", "", err)
	}
	var f failures
	for i, body := range chunks {
		f.add(chunkKeys[i], n.bulkWrite(ctx, opBulkPut, "/v1/bulk/put", body))
	}
	for _, p := range large {
		err := n.put(ctx, opBulkPut, p.Key, p.Value, p.PutOptions)
		if err != nil {
			err = &kv.Error{Op: "put-bulk", Key: p.Key, Err: err}
		}
		f.add([]string{p.Key}, err)
	}
	return f.result("put-bulk", len(pairs))
}

func encodePair(p kv.Pair) []byte {
	b := bulkPair{Key: p.Key}
	if utf8.Valid(p.Value) {
		b.Value = string(p.Value)
	} else {
		b.Value, b.Base64 = base64.StdEncoding.EncodeToString(p.Value), true
	}
	switch {
	case p.TTL != 0:
		b.ExpirationTTL = int64(p.TTL / time.Second)
	case !p.Expiration.IsZero():
		b.Expiration = p.Expiration.Unix()
	}
	if hasMetadata(p.Metadata) {
		b.Metadata = p.Metadata
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(b) // strings and validated JSON: cannot fail
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// DeleteBulk implements kv.BulkNamespace: requests of at most
// MaxBulkWritePerRequest keys, deleted one by one inside the Worker.
func (n *Namespace) DeleteBulk(ctx context.Context, keys []string) error {
	if err := kv.ValidateBatch(len(keys), kv.MaxBulkWrite); err != nil {
		return &kv.Error{Op: "delete-bulk", Err: err}
	}
	for _, k := range keys {
		if err := checkKey("delete-bulk", k); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fail("delete-bulk", "", err)
	}
	var f failures
	for lo := 0; lo < len(keys); lo += MaxBulkWritePerRequest {
		chunk := keys[lo:min(lo+MaxBulkWritePerRequest, len(keys))]
		body, _ := json.Marshal(chunk)
		f.add(chunk, n.bulkWrite(ctx, opBulkDelete, "/v1/bulk/delete", body))
	}
	return f.result("delete-bulk", len(keys))
}

// bulkWrite sends one bulk write and returns nil, the call's error, or a
// *kv.BulkError for the keys the Worker could not write.
func (n *Namespace) bulkWrite(ctx context.Context, op int, path string, body []byte) error {
	var res struct {
		Failed []failure `json:"failed"`
	}
	if err := n.doJSON(ctx, op, jsonRequest(n.base+path, body), &res); err != nil {
		return err
	}
	if len(res.Failed) == 0 {
		return nil
	}
	keys := make([]string, len(res.Failed))
	for i, f := range res.Failed {
		keys[i] = f.Key
	}
	f := res.Failed[0]
	first := &Error{Sentinel: sentinelOf(f.Code, 0), Code: f.Code, Message: f.Message, Attempts: 1}
	return &kv.BulkError{Keys: keys, Err: &kv.Error{Op: opNames[op], Key: f.Key, Err: first}}
}

// failures gathers the keys of a bulk write that were not written.
type failures struct {
	keys  []string
	first error
}

func (f *failures) add(keys []string, err error) {
	if err == nil {
		return
	}
	var be *kv.BulkError
	if errors.As(err, &be) {
		keys, err = be.Keys, be.Err
	}
	f.keys = append(f.keys, keys...)
	if f.first == nil {
		f.first = err
	}
}

func (f *failures) result(op string, total int) error {
	switch {
	case len(f.keys) == 0:
		return nil
	case len(f.keys) == total:
		return fail(op, "", f.first) // nothing was written
	}
	return &kv.BulkError{Op: op, Keys: f.keys, Err: f.first}
}

func drain(res *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
}
