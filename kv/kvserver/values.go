package kvserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvkit/kvkit/kv"
)

// maxBulkBody caps a bulk request body: the API's 100 MB plus JSON overhead.
const maxBulkBody = 110 << 20

func (s *Server) getValue(w http.ResponseWriter, r *http.Request, c call) {
	it, found, err := c.sp.ns.Get(r.Context(), c.key, kv.GetOptions{})
	if err != nil {
		s.writeKVError(w, r, err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, codeKeyNotFound, "get: 'key not found'")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(it.Value)))
	if !it.Expiration.IsZero() {
		w.Header().Set("Expiration", strconv.FormatInt(it.Expiration.Unix(), 10))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(it.Value)
}

func (s *Server) getMetadata(w http.ResponseWriter, r *http.Request, c call) {
	it, found, err := c.sp.ns.Get(r.Context(), c.key, kv.GetOptions{WithMetadata: true})
	if err != nil {
		s.writeKVError(w, r, err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, codeKeyNotFound, "get: 'key not found'")
		return
	}
	var result any // JSON null when the key has none
	if it.Metadata != nil {
		result = it.Metadata
	}
	writeResult(w, result, nil)
}

func (s *Server) deleteValue(w http.ResponseWriter, r *http.Request, c call) {
	if err := c.sp.ns.Delete(r.Context(), c.key); err != nil {
		s.writeKVError(w, r, err)
		return
	}
	writeResult(w, struct{}{}, nil)
}

// expirationParams reads ?expiration= and ?expiration_ttl= (seconds, sent by
// the SDK as floats).
func expirationParams(r *http.Request) (kv.PutOptions, error) {
	var o kv.PutOptions
	q := r.URL.Query()
	if v := q.Get("expiration_ttl"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f != math.Trunc(f) || f > math.MaxInt32 {
			return o, errors.New("Invalid expiration_ttl of " + v)
		}
		if f <= 0 {
			return o, errors.New("Invalid expiration_ttl of " + v + ". Expiration TTL must be greater than 0.")
		}
		o.TTL = time.Duration(f) * time.Second
	}
	if v := q.Get("expiration"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f != math.Trunc(f) || f > math.MaxInt64/2 {
			return o, errors.New("Invalid expiration of " + v)
		}
		if f <= 0 {
			return o, errors.New("Invalid expiration of " + v + ". Expiration times must be in the future.")
		}
		o.Expiration = time.Unix(int64(f), 0)
	}
	return o, nil
}

func (s *Server) putValue(w http.ResponseWriter, r *http.Request, c call) {
	opts, err := expirationParams(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	var value []byte
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		value, opts.Metadata, err = readMultipart(r)
	} else {
		value, err = io.ReadAll(io.LimitReader(r.Body, kv.MaxValueSize+1))
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	if err := c.sp.ns.Put(r.Context(), c.key, value, opts); err != nil {
		s.writeKVError(w, r, err)
		return
	}
	writeResult(w, struct{}{}, nil)
}

// readMultipart reads the "value" and "metadata" fields of a multipart PUT.
// "value" may be a plain field or a file part.
func readMultipart(r *http.Request) (value []byte, meta json.RawMessage, err error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, err
	}
	haveValue := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		switch p.FormName() {
		case "value":
			value, err = io.ReadAll(io.LimitReader(p, kv.MaxValueSize+1))
			haveValue = true
		case "metadata":
			var b []byte
			b, err = io.ReadAll(io.LimitReader(p, 64<<10))
			if err == nil && !json.Valid(b) {
				err = errors.New("metadata must be valid json")
			}
			meta = b
		}
		_ = p.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	if !haveValue {
		return nil, nil, errors.New("multipart body has no value field")
	}
	return value, meta, nil
}

// Cursors handed out are "c" + the memory backend's cursor (which it signs,
// so it recognises its own); "c" alone resumes at the start (what an empty
// first page carries). Anything else was never issued by this server.
func encodeCursor(mem string) string { return "c" + mem }

func decodeCursor(c string) (string, bool) { return strings.CutPrefix(c, "c") }

// errUnknownCursor is the message for a cursor the server never issued.
const errUnknownCursor = "Invalid cursor: not a cursor this server issued (cursors are opaque: pass back result_info.cursor unchanged)"

type keyJSON struct {
	Name       string          `json:"name"`
	Expiration int64           `json:"expiration,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

// listKeys answers GET …/keys?prefix=&limit=&cursor=: limit 10..1000
// (default 1000; the REST API's minimum is 10, the binding's 1), a prefix of
// at most 512 bytes (414, as the binding answers), and only cursors this
// server issued (400 otherwise: never a silent restart).
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, c call) {
	q := r.URL.Query()
	limit, err := intParam(q, "limit", kv.MaxListLimit, minListLimit, kv.MaxListLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	prefix := q.Get("prefix")
	if err := kv.ValidatePrefix(prefix); err != nil {
		s.writeKVError(w, r, &kv.Error{Op: "list", Err: err})
		return
	}
	cursor := q.Get("cursor")
	memCursor, ok := "", true
	if cursor != "" {
		memCursor, ok = decodeCursor(cursor)
	}
	if !ok {
		writeError(w, http.StatusBadRequest, codeBadRequest, errUnknownCursor)
		return
	}
	if c.fault.EmptyPage {
		next := cursor
		if next == "" {
			next = encodeCursor("")
		}
		writeResult(w, []keyJSON{}, &resultInfo{Count: 0, Cursor: &next})
		return
	}
	res, err := c.sp.ns.List(r.Context(), kv.ListOptions{Prefix: prefix, Limit: limit, Cursor: memCursor})
	if errors.Is(err, kv.ErrInvalidCursor) {
		writeError(w, http.StatusBadRequest, codeBadRequest, errUnknownCursor)
		return
	}
	if err != nil {
		s.writeKVError(w, r, err)
		return
	}
	keys := make([]keyJSON, len(res.Keys))
	for i, k := range res.Keys {
		keys[i] = keyJSON{Name: k.Name, Metadata: k.Metadata}
		if !k.Expiration.IsZero() {
			keys[i].Expiration = k.Expiration.Unix()
		}
	}
	next := ""
	if !res.Complete {
		next = encodeCursor(res.Cursor)
	}
	writeResult(w, keys, &resultInfo{Count: len(keys), Cursor: &next})
}

type bulkWriteJSON struct {
	Key           string          `json:"key"`
	Value         *string         `json:"value"`
	Base64        bool            `json:"base64"`
	Expiration    float64         `json:"expiration"`
	ExpirationTTL float64         `json:"expiration_ttl"`
	Metadata      json.RawMessage `json:"metadata"`
}

type bulkResult struct {
	SuccessfulKeyCount int      `json:"successful_key_count"`
	UnsuccessfulKeys   []string `json:"unsuccessful_keys"`
}

func (s *Server) bulkWrite(w http.ResponseWriter, r *http.Request, c call) {
	var body []bulkWriteJSON
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBulkBody)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "request body must be a JSON array of key-value pairs: "+err.Error())
		return
	}
	if err := kv.ValidateBatch(len(body), kv.MaxBulkWrite); err != nil {
		s.writeKVError(w, r, err)
		return
	}
	entries := make([]kv.Pair, 0, len(body))
	failed := []string{}
	for i, b := range body {
		if b.Value == nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, "entry "+strconv.Itoa(i)+" has no value")
			return
		}
		value := []byte(*b.Value)
		if b.Base64 {
			v, err := base64.StdEncoding.DecodeString(*b.Value)
			if err != nil {
				writeError(w, http.StatusBadRequest, codeBadRequest, "entry "+strconv.Itoa(i)+": value is not valid base64")
				return
			}
			value = v
		}
		e := kv.Pair{Key: b.Key, Value: value}
		if b.ExpirationTTL != 0 {
			if b.ExpirationTTL < 0 || b.ExpirationTTL != math.Trunc(b.ExpirationTTL) || b.ExpirationTTL > math.MaxInt32 {
				writeError(w, http.StatusBadRequest, codeBadRequest, "Invalid expiration_ttl of "+strconv.FormatFloat(b.ExpirationTTL, 'f', -1, 64))
				return
			}
			e.TTL = time.Duration(b.ExpirationTTL) * time.Second
		}
		if b.Expiration != 0 {
			if b.Expiration < 0 || b.Expiration != math.Trunc(b.Expiration) || b.Expiration > math.MaxInt64/2 {
				writeError(w, http.StatusBadRequest, codeBadRequest, "Invalid expiration of "+strconv.FormatFloat(b.Expiration, 'f', -1, 64))
				return
			}
			e.Expiration = time.Unix(int64(b.Expiration), 0)
		}
		if len(b.Metadata) > 0 {
			e.Metadata = b.Metadata
		}
		if slices.Contains(c.fault.FailKeys, b.Key) {
			failed = append(failed, b.Key)
			continue
		}
		entries = append(entries, e)
	}
	if len(entries) > 0 {
		if err := c.sp.ns.PutBulk(r.Context(), entries); err != nil {
			s.writeKVError(w, r, err)
			return
		}
	}
	writeResult(w, bulkResult{SuccessfulKeyCount: len(entries), UnsuccessfulKeys: failed}, nil)
}

func (s *Server) bulkDelete(w http.ResponseWriter, r *http.Request, c call) {
	var keys []string
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBulkBody)).Decode(&keys); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "request body must be a JSON array of keys: "+err.Error())
		return
	}
	if err := kv.ValidateBatch(len(keys), kv.MaxBulkWrite); err != nil {
		s.writeKVError(w, r, err)
		return
	}
	for _, k := range keys {
		if err := kv.ValidateKey(k); err != nil {
			s.writeKVError(w, r, err)
			return
		}
	}
	failed := []string{}
	todo := make([]string, 0, len(keys))
	for _, k := range keys {
		if slices.Contains(c.fault.FailKeys, k) {
			failed = append(failed, k)
		} else {
			todo = append(todo, k)
		}
	}
	if len(todo) > 0 {
		if err := c.sp.ns.DeleteBulk(r.Context(), todo); err != nil {
			s.writeKVError(w, r, err)
			return
		}
	}
	writeResult(w, bulkResult{SuccessfulKeyCount: len(todo), UnsuccessfulKeys: failed}, nil)
}

type bulkGetJSON struct {
	Keys         []string `json:"keys"`
	Type         string   `json:"type"`
	WithMetadata bool     `json:"withMetadata"`
}

type bulkGetEntry struct {
	Value      any             `json:"value"`
	Metadata   json.RawMessage `json:"metadata"`
	Expiration int64           `json:"expiration,omitempty"`
}

func (s *Server) bulkGet(w http.ResponseWriter, r *http.Request, c call) {
	var body bulkGetJSON
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "request body must be JSON with keys: "+err.Error())
		return
	}
	asJSON := false
	switch body.Type {
	case "", "text":
	case "json":
		asJSON = true
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest, `type must be "text" or "json"`)
		return
	}
	items, err := c.sp.ns.GetBulk(r.Context(), body.Keys, kv.GetOptions{WithMetadata: body.WithMetadata})
	if err != nil {
		s.writeKVError(w, r, err)
		return
	}
	// The values object lists the keys in the order they were asked for
	// (duplicates once, at their first place), as the binding's Map does:
	// encoding/json would sort a map's keys, so it is written by hand.
	total := 0
	out := bytes.NewBufferString(`{"values":{`)
	seen := make(map[string]bool, len(body.Keys))
	for _, k := range body.Keys {
		if seen[k] {
			continue
		}
		if len(seen) > 0 {
			out.WriteByte(',')
		}
		seen[k] = true
		name, _ := json.Marshal(k)
		out.Write(name)
		out.WriteByte(':')
		it, found := items[k]
		if !found {
			out.WriteString("null")
			continue
		}
		total += len(it.Value)
		// Values travel as JSON text: bytes that are not UTF-8 become
		// U+FFFD, as a Worker's TextDecoder does.
		var v any = string(it.Value)
		if asJSON {
			if !json.Valid(it.Value) {
				writeError(w, http.StatusBadRequest, codeBadRequest, "The value of key "+strconv.Quote(k)+" is not valid JSON")
				return
			}
			v = json.RawMessage(it.Value)
		}
		var entry any = v
		if body.WithMetadata {
			e := bulkGetEntry{Value: v, Metadata: it.Metadata}
			if e.Metadata == nil {
				e.Metadata = json.RawMessage("null")
			}
			if !it.Expiration.IsZero() {
				e.Expiration = it.Expiration.Unix()
			}
			entry = e
		}
		b, err := json.Marshal(entry)
		if err != nil {
			s.writeKVError(w, r, err)
			return
		}
		out.Write(b)
	}
	out.WriteString("}}")
	if total > kv.MaxValueSize {
		writeError(w, http.StatusRequestEntityTooLarge, codeBadRequest, "Total size of request exceeds the limit of 25MB")
		return
	}
	writeResult(w, json.RawMessage(out.Bytes()), nil)
}
