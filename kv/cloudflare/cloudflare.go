package cloudflare

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	cfkv "github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/internal/retry"
)

// Options tunes a Namespace. The zero value means the defaults.
type Options struct {
	// MaxAttempts bounds the HTTP requests made for one call, the first
	// included. Only 429, 408, 5xx and transport errors are retried.
	// Default: 4.
	MaxAttempts int
	// BaseBackoff is the wait before the first retry; each later retry
	// doubles it, with jitter. Default: 500ms.
	BaseBackoff time.Duration
	// MaxBackoff caps the computed backoff. Default: 8s.
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the Namespace waits out. A 429
	// asking for longer (Cloudflare's account-wide limit locks out for five
	// minutes) fails at once with kv.ErrRateLimited; [RetryAfter] reads the
	// wait from the error. Default: 30s.
	MaxRetryAfter time.Duration
	// Clock returns the current time, used to validate absolute expirations
	// before a request is made. Default: time.Now.
	Clock func() time.Time
	// Sleep waits between attempts and returns ctx.Err() if ctx ends first.
	// Tests replace it to record the waits instead of sleeping.
	// Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// HTTPClient is used by [FromEnv] and [Env.Service] to build the SDK
	// service (New takes a ready one). Default: an http.Client with a 60s
	// timeout.
	HTTPClient *http.Client
	// RequestOptions are added to every SDK call (after kvkit's own, so they
	// can add headers or middleware; kvkit still turns the SDK's retries off).
	// Default: none.
	RequestOptions []option.RequestOption
	// Logger receives a Debug line per retry. Default: discard.
	Logger *slog.Logger
}

func (o *Options) fill() {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// retryPolicy is o's retry settings, with their defaults.
func (o *Options) retryPolicy() (retry.Policy, error) {
	p := retry.Policy{MaxAttempts: o.MaxAttempts, BaseBackoff: o.BaseBackoff, MaxBackoff: o.MaxBackoff, MaxRetryAfter: o.MaxRetryAfter, Sleep: o.Sleep}
	err := p.Fill(500*time.Millisecond, 8*time.Second)
	return p, err
}

// Namespace is one Workers KV namespace reached through the Cloudflare REST
// API. It implements kv.Namespace, kv.BulkNamespace and kv.StreamNamespace
// and is safe for concurrent use.
type Namespace struct {
	client  *cfkv.KVService
	account string
	id      string
	opts    Options
	policy  retry.Policy
	log     *slog.Logger
	reqOpts []option.RequestOption

	counts  [numOps]atomic.Int64
	retries atomic.Int64
}

var (
	_ kv.Namespace       = (*Namespace)(nil)
	_ kv.BulkNamespace   = (*Namespace)(nil)
	_ kv.StreamNamespace = (*Namespace)(nil)
)

// New returns the namespace namespaceID of account accountID, reached
// through svc: the SDK's KV service, from kv.NewKVService(options...) or,
// in a program that already has the SDK's root client, client.KV. kvkit
// imports only the SDK's kv package, so a program that does not use the
// root client never compiles the rest of the SDK. The service's own
// retries are turned off for every call (the Namespace retries by its own
// policy, so the two never multiply); a service without a base URL talks
// to Cloudflare's production API.
func New(svc *cfkv.KVService, accountID, namespaceID string, opts Options) (*Namespace, error) {
	switch {
	case svc == nil:
		return nil, &kv.Error{Op: "new", Err: invalid("nil cloudflare KV service")}
	case accountID == "" || strings.ContainsAny(accountID, "/?#% "):
		return nil, &kv.Error{Op: "new", Err: invalid("account ID " + strconv.Quote(accountID) + " is empty or malformed")}
	case namespaceID == "" || strings.ContainsAny(namespaceID, "/?#% "):
		return nil, &kv.Error{Op: "new", Err: invalid("namespace ID " + strconv.Quote(namespaceID) + " is empty or malformed")}
	}
	opts.fill()
	policy, err := opts.retryPolicy()
	if err != nil {
		return nil, &kv.Error{Op: "new", Err: invalid(err.Error())}
	}
	n := &Namespace{client: svc, account: accountID, id: namespaceID, opts: opts, policy: policy, log: opts.Logger}
	n.reqOpts = append([]option.RequestOption{option.WithEnvironmentProduction(), option.WithMaxRetries(0)}, opts.RequestOptions...)
	n.reqOpts = append(n.reqOpts, option.WithMaxRetries(0), option.WithMiddleware(observe))
	return n, nil
}

type detailErr struct {
	sentinel error
	msg      string
}

func (d *detailErr) Error() string { return d.sentinel.Error() + ": " + d.msg }
func (d *detailErr) Unwrap() error { return d.sentinel }

func invalid(msg string) error { return &detailErr{kv.ErrInvalidOptions, msg} }

// ID returns the namespace ID.
func (n *Namespace) ID() string { return n.id }

// AccountID returns the account ID.
func (n *Namespace) AccountID() string { return n.account }

// call options: kvkit's, plus per-call extras.
func (n *Namespace) ro(extra ...option.RequestOption) []option.RequestOption {
	if len(extra) == 0 {
		return n.reqOpts
	}
	out := make([]option.RequestOption, 0, len(n.reqOpts)+len(extra))
	out = append(out, n.reqOpts...)
	return append(out, extra...)
}

// checkKey validates key before any request: "" and "." / ".." cannot be
// expressed in a URL path at all (the SDK would resolve them to another
// route), and KV rejects keys over 512 bytes.
func checkKey(op, key string) error {
	if err := kv.ValidateKey(key); err != nil {
		return &kv.Error{Op: op, Key: key, Err: err}
	}
	return nil
}

// escape percent-encodes key for one path segment. The SDK does not escape
// keys (docs/cloudflare-kv.md §3): "/", "?", "#", "%" would change the URL.
func escape(key string) string { return url.PathEscape(key) }

func fail(op, key string, err error) error {
	if err == nil {
		return nil
	}
	return &kv.Error{Op: op, Key: key, Err: err}
}

// isNotFound reports a 404 for a missing key: code 10009, or no code at all
// (404 with code 10013 is a missing namespace, an error).
func isNotFound(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		return false
	}
	for _, d := range ae.Errors {
		if d.Code == codeKeyNotFound {
			return true
		}
	}
	return len(ae.Errors) == 0
}

// codeKeyNotFound is the API's error code for a missing key.
const codeKeyNotFound = 10009

// minRESTListLimit is the smallest key-list limit the REST API documents
// (the binding's is 1): a smaller one is answered with a 400.
const minRESTListLimit = 10

// valueGetParams returns the parameters of a value read. The SDK's param
// fields are of an internal type, so they are set field by field rather
// than through the root package's F helper (importing the root package
// would compile the whole SDK, several minutes on a small machine).
func (n *Namespace) valueGetParams() (p cfkv.NamespaceValueGetParams) {
	p.AccountID.Value, p.AccountID.Present = n.account, true
	return p
}

// Get implements kv.Namespace. Without metadata it is one GET of the value
// (the expiration comes in a header). With metadata it is one bulk read of
// the key with metadata — one request instead of value + metadata — unless
// the value is not UTF-8 text (bulk reads are text-only), which costs a
// second request for the raw bytes.
func (n *Namespace) Get(ctx context.Context, key string, opts kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	if err := checkKey("get", key); err != nil {
		return kv.Entry[[]byte]{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return kv.Entry[[]byte]{}, false, fail("get", key, err)
	}
	if opts.WithMetadata {
		items, err := n.getBulk(ctx, "get", key, []string{key}, true)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusRequestEntityTooLarge {
			return n.getSeparately(ctx, key) // a value too big for a bulk read
		}
		if err != nil {
			return kv.Entry[[]byte]{}, false, err
		}
		it, found := items[key]
		return it, found, nil
	}
	body, exp, found, err := n.open(ctx, "get", key)
	if err != nil || !found {
		return kv.Entry[[]byte]{}, false, err
	}
	defer body.Close()
	value, err := io.ReadAll(io.LimitReader(body, kv.MaxValueSize+1))
	if err != nil {
		return kv.Entry[[]byte]{}, false, fail("get", key, &APIError{Sentinel: kv.ErrUnavailable, Cause: err, Attempts: 1})
	}
	return kv.Entry[[]byte]{Key: key, Value: value, Expiration: exp}, true, nil
}

// getSeparately reads value and metadata with two requests.
func (n *Namespace) getSeparately(ctx context.Context, key string) (kv.Entry[[]byte], bool, error) {
	it, found, err := n.Get(ctx, key, kv.GetOptions{})
	if err != nil || !found {
		return it, found, err
	}
	err = n.do(ctx, opMetadata, func(ctx context.Context) error {
		var raw []byte
		var p cfkv.NamespaceMetadataGetParams
		p.AccountID.Value, p.AccountID.Present = n.account, true
		_, err := n.client.Namespaces.Metadata.Get(ctx, n.id, escape(key), p, n.ro(option.WithResponseBodyInto(&raw))...)
		if err != nil {
			return err
		}
		var env struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			return err
		}
		if len(env.Result) > 0 && string(env.Result) != "null" {
			it.Metadata = env.Result
		}
		return nil
	})
	if isNotFound(err) {
		return kv.Entry[[]byte]{}, false, nil
	}
	if err != nil {
		return kv.Entry[[]byte]{}, false, fail("get", key, err)
	}
	return it, true, nil
}

// open GETs the value of key and returns its unread body.
func (n *Namespace) open(ctx context.Context, op, key string) (io.ReadCloser, time.Time, bool, error) {
	var res *http.Response
	err := n.do(ctx, opGet, func(ctx context.Context) error {
		r, err := n.client.Namespaces.Values.Get(ctx, n.id, escape(key), n.valueGetParams(), n.ro()...)
		if err != nil {
			if r != nil && r.Body != nil {
				_ = r.Body.Close()
			}
			return err
		}
		res = r
		return nil
	})
	if err != nil {
		if isNotFound(err) {
			return nil, time.Time{}, false, nil
		}
		return nil, time.Time{}, false, fail(op, key, err)
	}
	var exp time.Time
	if v := res.Header.Get("Expiration"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			exp = time.Unix(int64(secs), 0)
		}
	}
	return res.Body, exp, true, nil
}

// GetStream implements kv.StreamNamespace: the body of one GET, unbuffered.
func (n *Namespace) GetStream(ctx context.Context, key string) (io.ReadCloser, bool, error) {
	if err := checkKey("get", key); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, fail("get", key, err)
	}
	body, _, found, err := n.open(ctx, "get", key)
	return body, found, err
}

// Put implements kv.Namespace: one PUT, a raw body without metadata, else
// multipart/form-data with the value as a file part and the metadata as
// one JSON text field, the form wrangler sends.
//
// The body is built here and handed to the SDK with WithRequestBody, so the
// SDK's own multipart encoder never sees the value or the metadata. That
// encoder has a data race (cloudflare-go v7.9.0, internal/apiform: the
// cached encoder of an interface-typed field shares the first caller's
// encoder struct and writes its root flag while other goroutines read it),
// hit by concurrent Puts with metadata; see docs/upstream-bugs.md.
func (n *Namespace) Put(ctx context.Context, key string, value []byte, opts kv.PutOptions) error {
	if err := kv.ValidatePut(key, len(value), opts, n.opts.Clock()); err != nil {
		return fail("put", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fail("put", key, err)
	}
	var params cfkv.NamespaceValueUpdateParams
	params.AccountID.Value, params.AccountID.Present = n.account, true
	switch {
	case opts.TTL != 0:
		params.ExpirationTTL.Value, params.ExpirationTTL.Present = float64(opts.TTL/time.Second), true
	case !opts.Expiration.IsZero():
		params.Expiration.Value, params.Expiration.Present = float64(opts.Expiration.Unix()), true
	}
	contentType, body := "application/octet-stream", value
	if len(opts.Metadata) > 0 && !bytes.Equal(opts.Metadata, []byte("null")) {
		contentType, body = multipartPut(value, opts.Metadata)
	}
	err := n.do(ctx, opPut, func(ctx context.Context) error {
		_, err := n.client.Namespaces.Values.Update(ctx, n.id, escape(key), params,
			n.ro(option.WithRequestBody(contentType, bytes.NewReader(body)))...)
		return err
	})
	return fail("put", key, err)
}

// multipartPut encodes a write with metadata: the value as a file part
// named "value" and the metadata as the JSON text of a field "metadata".
func multipartPut(value []byte, meta json.RawMessage) (contentType string, body []byte) {
	var buf bytes.Buffer
	buf.Grow(len(value) + len(meta) + 512)
	w := multipart.NewWriter(&buf)
	h := make(textproto.MIMEHeader, 2)
	h.Set("Content-Disposition", `form-data; name="value"; filename="blob"`)
	h.Set("Content-Type", "application/octet-stream")
	part, _ := w.CreatePart(h) // writes to a bytes.Buffer cannot fail
	_, _ = part.Write(value)
	_ = w.WriteField("metadata", string(meta))
	_ = w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

// PutStream implements kv.StreamNamespace. The value is read into memory
// first (at most kv.MaxValueSize bytes): the SDK buffers request bodies
// anyway, and a buffered body can be sent again on retry.
func (n *Namespace) PutStream(ctx context.Context, key string, r io.Reader, opts kv.PutOptions) error {
	if err := checkKey("put", key); err != nil {
		return err
	}
	value, err := io.ReadAll(io.LimitReader(r, kv.MaxValueSize+1))
	if err != nil {
		return fail("put", key, err)
	}
	return n.Put(ctx, key, value, opts)
}

// Delete implements kv.Namespace. Deleting a missing key is not an error.
func (n *Namespace) Delete(ctx context.Context, key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fail("delete", key, err)
	}
	err := n.do(ctx, opDelete, func(ctx context.Context) error {
		var p cfkv.NamespaceValueDeleteParams
		p.AccountID.Value, p.AccountID.Present = n.account, true
		_, err := n.client.Namespaces.Values.Delete(ctx, n.id, escape(key), p, n.ro()...)
		return err
	})
	if isNotFound(err) {
		return nil
	}
	return fail("delete", key, err)
}

// List implements kv.Namespace: one request for one page. The page is
// complete when the API returns no cursor; an empty page with a cursor is
// not the end (the SDK's auto-pager wrongly stops there, so it is not used).
//
// The REST API's smallest limit is 10 (the binding's is 1). For a limit of
// 1..9 List asks for 10 keys and returns the first ones, with a cursor of
// its own naming the API's cursor of that page and the last key returned;
// the next call asks for that page again and drops the keys up to it. Each
// page is still one request, and no key is skipped or repeated, even when
// keys change in between.
func (n *Namespace) List(ctx context.Context, req kv.ListOptions) (kv.Page, error) {
	if req.Limit < 0 || req.Limit > kv.MaxListLimit {
		return kv.Page{}, &kv.Error{Op: "list", Key: req.Prefix, Err: kv.ErrInvalidLimit}
	}
	if err := kv.ValidatePrefix(req.Prefix); err != nil {
		return kv.Page{}, &kv.Error{Op: "list", Key: req.Prefix, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return kv.Page{}, fail("list", req.Prefix, err)
	}
	want := req.Limit
	if want == 0 {
		want = kv.MaxListLimit
	}
	apiCursor, after, resumed, err := decodeListCursor(req.Cursor)
	if err != nil {
		return kv.Page{}, &kv.Error{Op: "list", Key: req.Prefix, Err: err}
	}
	ask := req.Limit // 0: the API's default, 1000
	if want < minRESTListLimit || resumed {
		ask = max(minRESTListLimit, min(want+minRESTListLimit, kv.MaxListLimit))
	}
	var params cfkv.NamespaceKeyListParams
	params.AccountID.Value, params.AccountID.Present = n.account, true
	if req.Prefix != "" {
		params.Prefix.Value, params.Prefix.Present = req.Prefix, true
	}
	if ask != 0 {
		params.Limit.Value, params.Limit.Present = float64(ask), true
	}
	if apiCursor != "" {
		params.Cursor.Value, params.Cursor.Present = apiCursor, true
	}
	var page []cfkv.Key
	var cursor string
	err = n.do(ctx, opList, func(ctx context.Context) error {
		res, err := n.client.Namespaces.Keys.List(ctx, n.id, params, n.ro()...)
		if err != nil {
			return err
		}
		page, cursor = res.Result, res.ResultInfo.Cursor
		return nil
	})
	if err != nil {
		// The API rejects a cursor it did not issue with a 400 (kvkit
		// serve does; the code is undocumented). The prefix and limit were
		// checked above, so with a cursor sent a 400 is about the cursor.
		var ae *APIError
		if apiCursor != "" && errors.As(err, &ae) && ae.Status == http.StatusBadRequest && ae.Sentinel == nil {
			ae.Sentinel = kv.ErrInvalidCursor
		}
		return kv.Page{}, fail("list", req.Prefix, err)
	}
	if resumed {
		i := 0
		for i < len(page) && page[i].Name <= after {
			i++
		}
		page = page[i:]
	}
	out := kv.Page{Cursor: cursor, Complete: cursor == ""}
	if len(page) > want {
		page = page[:want]
		out.Cursor, out.Complete = encodeListCursor(apiCursor, page[want-1].Name), false
	}
	out.Keys = make([]kv.KeyInfo, len(page))
	for i, k := range page {
		ki := kv.KeyInfo{Name: k.Name}
		if k.Expiration > 0 {
			ki.Expiration = time.Unix(int64(k.Expiration), 0)
		}
		if raw := k.JSON.Metadata.Raw(); raw != "" && raw != "null" {
			ki.Metadata = json.RawMessage(raw)
		}
		out.Keys[i] = ki
	}
	return out, nil
}

// listCursorTag starts the cursors List makes for pages smaller than the
// API's: tag + base64url(last key returned) + "." + the API's cursor of the
// page it came from. Any other cursor is the API's own, passed through.
const listCursorTag = "kvkit1."

func encodeListCursor(apiCursor, lastKey string) string {
	return listCursorTag + base64.RawURLEncoding.EncodeToString([]byte(lastKey)) + "." + apiCursor
}

func decodeListCursor(c string) (apiCursor, after string, resumed bool, err error) {
	rest, ok := strings.CutPrefix(c, listCursorTag)
	if !ok {
		return c, "", false, nil
	}
	k64, apiCursor, ok := strings.Cut(rest, ".")
	key, derr := base64.RawURLEncoding.DecodeString(k64)
	if !ok || derr != nil {
		return "", "", false, kv.ErrInvalidCursor
	}
	return apiCursor, string(key), true, nil
}

// GetBulk implements kv.BulkNamespace: one request for up to 100 keys.
// The REST API returns values as JSON text; a value that is not valid UTF-8
// would come back altered (U+FFFD in place of the bad bytes), so any value
// containing U+FFFD is read again with a plain GET (one request each),
// which returns the exact bytes. Text values never cost more than the one
// bulk request.
func (n *Namespace) GetBulk(ctx context.Context, keys []string, opts kv.GetOptions) (map[string]kv.Entry[[]byte], error) {
	if err := kv.ValidateBatch(len(keys), kv.MaxBulkGet); err != nil {
		return nil, &kv.Error{Op: "get-bulk", Err: err}
	}
	for _, k := range keys {
		if err := kv.ValidateKey(k); err != nil {
			return nil, &kv.Error{Op: "get-bulk", Key: k, Err: err}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fail("get-bulk", "", err)
	}
	return n.getBulk(ctx, "get-bulk", "", keys, opts.WithMetadata)
}

// bulkValue is one entry of a bulk read with metadata.
type bulkValue struct {
	Value      *string         `json:"value"`
	Metadata   json.RawMessage `json:"metadata"`
	Expiration float64         `json:"expiration"`
}

// getBulk reads keys in one bulk request. It always asks for metadata,
// because only that form carries each key's expiration (which a Store uses
// to bound its cache), and drops the metadata when wantMeta is false.
func (n *Namespace) getBulk(ctx context.Context, op, errKey string, keys []string, wantMeta bool) (map[string]kv.Entry[[]byte], error) {
	var params cfkv.NamespaceBulkGetParams
	params.AccountID.Value, params.AccountID.Present = n.account, true
	reqBody, _ := json.Marshal(struct {
		Keys         []string `json:"keys"`
		Type         string   `json:"type"`
		WithMetadata bool     `json:"withMetadata"`
	}{dedupe(keys), "text", true})
	var raw []byte
	err := n.do(ctx, opBulkGet, func(ctx context.Context) error {
		// The SDK's typed result decodes to nil when any key is missing
		// (docs/cloudflare-kv.md): take the raw envelope and parse it here.
		_, err := n.client.Namespaces.BulkGet(ctx, n.id, params,
			n.ro(option.WithRequestBody("application/json", bytes.NewReader(reqBody)), option.WithResponseBodyInto(&raw))...)
		return err
	})
	if err != nil {
		return nil, fail(op, errKey, err)
	}
	var env struct {
		Result struct {
			Values map[string]json.RawMessage `json:"values"`
		} `json:"result"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fail(op, errKey, &APIError{Sentinel: kv.ErrUnavailable, Cause: errors.New("malformed bulk get response: " + err.Error()), Attempts: 1})
	}
	out := make(map[string]kv.Entry[[]byte], len(env.Result.Values))
	var refetch []string
	for k, v := range env.Result.Values {
		if len(v) == 0 || string(v) == "null" {
			continue // missing
		}
		var bv bulkValue
		if err := json.Unmarshal(v, &bv); err != nil || bv.Value == nil {
			return nil, fail(op, k, &APIError{Sentinel: kv.ErrUnavailable, Cause: errors.New("malformed bulk get entry"), Attempts: 1})
		}
		it := kv.Entry[[]byte]{Key: k, Value: []byte(*bv.Value)}
		if wantMeta && len(bv.Metadata) > 0 && string(bv.Metadata) != "null" {
			it.Metadata = bv.Metadata
		}
		if bv.Expiration > 0 {
			it.Expiration = time.Unix(int64(bv.Expiration), 0)
		}
		out[k] = it
		if bytes.ContainsRune(it.Value, utf8.RuneError) {
			refetch = append(refetch, k)
		}
	}
	for _, k := range refetch {
		body, exp, found, err := n.open(ctx, op, k)
		if err != nil {
			return nil, err
		}
		if !found { // deleted in between
			delete(out, k)
			continue
		}
		value, err := io.ReadAll(io.LimitReader(body, kv.MaxValueSize+1))
		_ = body.Close()
		if err != nil {
			return nil, fail(op, k, &APIError{Sentinel: kv.ErrUnavailable, Cause: err, Attempts: 1})
		}
		it := out[k]
		it.Value, it.Expiration = value, exp
		out[k] = it
	}
	return out, nil
}

// bulkPair is one pair of a bulk write as the API takes it.
type bulkPair struct {
	Key           string          `json:"key"`
	Value         string          `json:"value"`
	Base64        bool            `json:"base64,omitempty"`
	Expiration    int64           `json:"expiration,omitempty"`
	ExpirationTTL int64           `json:"expiration_ttl,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
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

// PutBulk implements kv.BulkNamespace: one request for up to 10,000 pairs.
// Values that are valid UTF-8 travel as text, others base64-encoded. Keys
// the API reports as unsuccessful make a *kv.BulkError listing them.
func (n *Namespace) PutBulk(ctx context.Context, entries []kv.Pair) error {
	if err := kv.ValidateBatch(len(entries), kv.MaxBulkWrite); err != nil {
		return &kv.Error{Op: "put-bulk", Err: err}
	}
	now := n.opts.Clock()
	body := make([]bulkPair, len(entries))
	for i, e := range entries {
		if err := kv.ValidatePut(e.Key, len(e.Value), e.PutOptions, now); err != nil {
			return &kv.Error{Op: "put-bulk", Key: e.Key, Err: err}
		}
		b := bulkPair{Key: e.Key}
		if utf8.Valid(e.Value) {
			b.Value = string(e.Value)
		} else {
			b.Value, b.Base64 = base64.StdEncoding.EncodeToString(e.Value), true
		}
		switch {
		case e.TTL != 0:
			b.ExpirationTTL = int64(e.TTL / time.Second)
		case !e.Expiration.IsZero():
			b.Expiration = e.Expiration.Unix()
		}
		if len(e.Metadata) > 0 && !bytes.Equal(e.Metadata, []byte("null")) {
			b.Metadata = e.Metadata
		}
		body[i] = b
	}
	if err := ctx.Err(); err != nil {
		return fail("put-bulk", "", err)
	}
	reqBody, err := json.Marshal(body)
	if err != nil { // metadata was validated as JSON: not reached
		return fail("put-bulk", "", err)
	}
	var params cfkv.NamespaceBulkUpdateParams
	params.AccountID.Value, params.AccountID.Present = n.account, true
	var failed []string
	err = n.do(ctx, opBulkPut, func(ctx context.Context) error {
		res, err := n.client.Namespaces.BulkUpdate(ctx, n.id, params,
			n.ro(option.WithRequestBody("application/json", bytes.NewReader(reqBody)))...)
		if err == nil {
			failed = res.UnsuccessfulKeys
		}
		return err
	})
	if err != nil {
		return fail("put-bulk", "", err)
	}
	return partial("put-bulk", failed)
}

// DeleteBulk implements kv.BulkNamespace: one request for up to 10,000 keys.
func (n *Namespace) DeleteBulk(ctx context.Context, keys []string) error {
	if err := kv.ValidateBatch(len(keys), kv.MaxBulkWrite); err != nil {
		return &kv.Error{Op: "delete-bulk", Err: err}
	}
	for _, k := range keys {
		if err := kv.ValidateKey(k); err != nil {
			return &kv.Error{Op: "delete-bulk", Key: k, Err: err}
		}
	}
	if err := ctx.Err(); err != nil {
		return fail("delete-bulk", "", err)
	}
	var params cfkv.NamespaceBulkDeleteParams
	params.AccountID.Value, params.AccountID.Present = n.account, true
	reqBody, _ := json.Marshal(keys)
	var failed []string
	err := n.do(ctx, opBulkDelete, func(ctx context.Context) error {
		res, err := n.client.Namespaces.BulkDelete(ctx, n.id, params,
			n.ro(option.WithRequestBody("application/json", bytes.NewReader(reqBody)))...)
		if err == nil {
			failed = res.UnsuccessfulKeys
		}
		return err
	})
	if err != nil {
		return fail("delete-bulk", "", err)
	}
	return partial("delete-bulk", failed)
}

// ErrPartial is the cause inside a *kv.BulkError when the API accepted a bulk
// call but reported some keys as unsuccessful. The API asks callers to retry
// those keys.
const ErrPartial cloudflareError = "cloudflare: some keys were not written; retry them"

// cloudflareError is the type of the package's sentinel errors.
type cloudflareError string

func (e cloudflareError) Error() string { return string(e) }

func partial(op string, failed []string) error {
	if len(failed) == 0 {
		return nil
	}
	return &kv.BulkError{Op: op, Keys: failed, Err: ErrPartial}
}
