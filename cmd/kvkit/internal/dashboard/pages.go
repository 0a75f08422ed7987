package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvserver"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/counter"
	"github.com/kvkit/kvkit/patterns/flags"
	"github.com/kvkit/kvkit/patterns/session"
)

// pageSize is how many keys the keys page lists at a time.
const pageSize = 50

func (d *Dashboard) base(ns kvserver.NamespaceInfo, tab string) page {
	return page{NS: ns, Tab: tab, Locked: d.opts.Token != ""}
}

// --- namespaces ---

type namespacesData struct {
	page
	Namespaces []nsRow
	Title      string
	Error      string
}

type nsRow struct {
	kvserver.NamespaceInfo
	Keys int
}

func (d *Dashboard) namespaces() []nsRow {
	var rows []nsRow
	for _, info := range d.srv.Namespaces() {
		n := 0
		if ns, ok := d.srv.Namespace(info.ID); ok {
			n = ns.Len()
		}
		rows = append(rows, nsRow{info, n})
	}
	return rows
}

func (d *Dashboard) namespacesPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, http.StatusOK, "namespaces", namespacesData{page: d.base(kvserver.NamespaceInfo{}, "namespaces"), Namespaces: d.namespaces()})
}

func (d *Dashboard) createNamespace(w http.ResponseWriter, r *http.Request) {
	title := r.PostFormValue("title")
	body, _ := json.Marshal(map[string]string{"title": title})
	res := d.api(r.Context(), http.MethodPost, "", nil, "application/json", bytes.NewReader(body))
	if msg := res.Err(); msg != "" {
		d.render(w, res.Status, "namespaces", namespacesData{page: d.base(kvserver.NamespaceInfo{}, "namespaces"), Namespaces: d.namespaces(), Title: title, Error: msg})
		return
	}
	var created struct{ ID string }
	_ = json.Unmarshal(res.Result, &created)
	seeOther(w, r, "/ns/"+created.ID, nil)
}

func (d *Dashboard) deleteNamespace(w http.ResponseWriter, r *http.Request) {
	info, _, ok := d.namespace(w, r)
	if !ok {
		return
	}
	if res := d.api(r.Context(), http.MethodDelete, "/"+info.ID, nil, "", nil); res.Err() != "" {
		d.render(w, res.Status, "error", errorData{page: d.base(info, ""), Message: res.Err()})
		return
	}
	seeOther(w, r, "/", nil)
}

// --- keys ---

// putForm is the put/edit form, as submitted (re-shown after an error).
type putForm struct {
	Key        string
	Value      string
	TTL        string
	Expiration string
	Metadata   string
	From       string // "key" when sent from a key's page, to show errors there
	Binary     bool   // the stored value is binary: only a file replaces it
}

type keyRow struct {
	Name       string
	Expiration *when
	Metadata   json.RawMessage
}

type keysData struct {
	page
	Prefix   string
	Cursor   string
	Keys     []keyRow
	Next     string // cursor of the next page; "" on the last
	Form     putForm
	Error    string
	Notice   string
	Complete bool
}

func (d *Dashboard) keysPage(w http.ResponseWriter, r *http.Request) {
	info, ns, ok := d.namespace(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	d.renderKeys(w, r, info, ns, http.StatusOK, keysData{Prefix: q.Get("prefix"), Cursor: q.Get("cursor"), Notice: q.Get("notice")})
}

// renderKeys lists one page of keys into data and renders the keys page.
func (d *Dashboard) renderKeys(w http.ResponseWriter, r *http.Request, info kvserver.NamespaceInfo, ns *memory.Namespace, status int, data keysData) {
	data.page = d.base(info, "keys")
	res, err := ns.List(r.Context(), kv.ListOptions{Prefix: data.Prefix, Limit: pageSize, Cursor: data.Cursor})
	if err != nil {
		if data.Error == "" {
			data.Error = err.Error()
			status = http.StatusBadRequest
		}
		res, _ = ns.List(r.Context(), kv.ListOptions{Limit: pageSize})
		data.Prefix, data.Cursor = "", ""
	}
	for _, k := range res.Keys {
		data.Keys = append(data.Keys, keyRow{Name: k.Name, Expiration: d.when(k.Expiration), Metadata: k.Metadata})
	}
	data.Next, data.Complete = res.Cursor, res.Complete
	d.render(w, status, "keys", data)
}

type keyData struct {
	page
	Key        string
	Value      value
	Metadata   string
	Expiration *when
	Form       putForm
	Error      string
}

func (d *Dashboard) keyPage(w http.ResponseWriter, r *http.Request) {
	info, ns, ok := d.namespace(w, r)
	if !ok {
		return
	}
	key := r.URL.Query().Get("key")
	data, found, err := d.keyData(r, info, ns, key)
	if err != nil {
		d.render(w, http.StatusBadRequest, "error", errorData{page: d.base(info, "keys"), Message: err.Error()})
		return
	}
	if !found {
		d.render(w, http.StatusNotFound, "error", errorData{page: d.base(info, "keys"), Message: "No key " + strconv.Quote(key) + " (it may have expired or been deleted)."})
		return
	}
	d.render(w, http.StatusOK, "key", data)
}

func (d *Dashboard) keyData(r *http.Request, info kvserver.NamespaceInfo, ns *memory.Namespace, key string) (keyData, bool, error) {
	it, found, err := ns.Get(r.Context(), key, kv.GetOptions{WithMetadata: true})
	if err != nil || !found {
		return keyData{}, found, err
	}
	v := viewValue(it.Value)
	data := keyData{page: d.base(info, "keys"), Key: key, Value: v, Metadata: prettyJSON(it.Metadata), Expiration: d.when(it.Expiration)}
	data.Form = putForm{Key: key, Metadata: string(it.Metadata), Binary: v.Kind == "binary"}
	if v.Kind != "binary" {
		data.Form.Value = string(it.Value)
	}
	if !it.Expiration.IsZero() {
		data.Form.Expiration = strconv.FormatInt(it.Expiration.Unix(), 10)
	}
	return data, true, nil
}

// maxForm bounds a put form: a 25 MiB value and the other fields.
const maxForm = kv.MaxValueSize + 1<<20

// putKey writes a key through the API. Every check is the API's (or, for a
// form field the API has no form of, a message of the same kind), and a
// rejected put stores nothing.
func (d *Dashboard) putKey(w http.ResponseWriter, r *http.Request) {
	info, ns, ok := d.namespace(w, r)
	if !ok {
		return
	}
	form, file, hasFile, err := readPutForm(w, r)
	fail := func(status int, msg string) {
		if form.From == "key" {
			if data, found, _ := d.keyData(r, info, ns, form.Key); found {
				data.Form, data.Error = form, msg
				data.Form.Binary = data.Value.Kind == "binary"
				d.render(w, status, "key", data)
				return
			}
		}
		d.renderKeys(w, r, info, ns, status, keysData{Form: form, Error: msg})
	}
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	if err := kv.ValidateKey(form.Key); form.Key == "" && err != nil {
		fail(http.StatusBadRequest, (&kv.Error{Op: "put", Key: form.Key, Err: err}).Error())
		return
	}
	value := []byte(strings.ReplaceAll(form.Value, "\r\n", "\n"))
	if hasFile {
		value = file
	}
	q := url.Values{}
	if ttl := strings.TrimSpace(form.TTL); ttl != "" {
		if dur, err := time.ParseDuration(ttl); err == nil && dur%time.Second == 0 {
			ttl = strconv.FormatInt(int64(dur/time.Second), 10) // "1h" is 3600
		}
		q.Set("expiration_ttl", ttl)
	}
	if exp := strings.TrimSpace(form.Expiration); exp != "" {
		unix, err := parseExpiration(exp)
		if err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		q.Set("expiration", unix)
	}
	var body bytes.Buffer
	contentType := "application/octet-stream"
	if meta := strings.TrimSpace(form.Metadata); meta != "" {
		mw := multipart.NewWriter(&body)
		part, _ := mw.CreateFormFile("value", "value")
		_, _ = part.Write(value)
		_ = mw.WriteField("metadata", meta)
		_ = mw.Close()
		contentType = mw.FormDataContentType()
	} else {
		body.Write(value)
	}
	res := d.api(r.Context(), http.MethodPut, "/"+info.ID+"/values/"+url.PathEscape(form.Key), q, contentType, &body)
	if msg := res.Err(); msg != "" {
		fail(res.Status, msg)
		return
	}
	seeOther(w, r, "/ns/"+info.ID+"/key", url.Values{"key": {form.Key}})
}

// readPutForm reads the put form (multipart, for the file input) without
// holding more than one value in memory: the file part is read up to one
// byte past the value limit, so the API can name the limit.
func readPutForm(w http.ResponseWriter, r *http.Request) (form putForm, file []byte, hasFile bool, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	mr, err := r.MultipartReader()
	if err != nil {
		if err := r.ParseForm(); err != nil {
			return form, nil, false, errNoForm
		}
		form = putForm{Key: r.PostFormValue("key"), Value: r.PostFormValue("value"), TTL: r.PostFormValue("ttl"),
			Expiration: r.PostFormValue("expiration"), Metadata: r.PostFormValue("metadata"), From: r.PostFormValue("from")}
		return form, nil, false, nil
	}
	fields := map[string]*string{"key": &form.Key, "value": &form.Value, "ttl": &form.TTL, "expiration": &form.Expiration, "metadata": &form.Metadata, "from": &form.From}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) && hasFile {
			break // the file ran past the limit: the API will say so
		}
		if err != nil {
			return form, nil, false, errNoForm
		}
		name := p.FormName()
		if name == "file" {
			if p.FileName() == "" {
				_ = p.Close()
				continue
			}
			file, err = io.ReadAll(io.LimitReader(p, kv.MaxValueSize+1))
			hasFile = len(file) > 0 || err == nil
			_ = p.Close()
			if err != nil && !errors.As(err, &tooBig) {
				return form, nil, false, errNoForm
			}
			if len(file) > kv.MaxValueSize {
				break
			}
			continue
		}
		if dst, ok := fields[name]; ok {
			b, err := io.ReadAll(io.LimitReader(p, 1<<20))
			if err != nil {
				return form, nil, false, errNoForm
			}
			*dst = string(b)
		}
		_ = p.Close()
	}
	return form, file, hasFile, nil
}

// parseExpiration reads the expiration field: Unix seconds, RFC 3339, or
// what a datetime-local input sends (local time).
func parseExpiration(s string) (string, error) {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return s, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return strconv.FormatInt(t.Unix(), 10), nil
		}
	}
	return "", errors.New("Invalid expiration of " + strconv.Quote(s) + ": give Unix seconds or a date and time (2030-01-02T15:04:05Z)")
}

func (d *Dashboard) deleteKey(w http.ResponseWriter, r *http.Request) {
	info, _, ok := d.namespace(w, r)
	if !ok {
		return
	}
	key := r.PostFormValue("key")
	if key == "" {
		d.render(w, http.StatusBadRequest, "error", errorData{page: d.base(info, "keys"), Message: (&kv.Error{Op: "delete", Err: kv.ValidateKey("")}).Error()})
		return
	}
	if res := d.api(r.Context(), http.MethodDelete, "/"+info.ID+"/values/"+url.PathEscape(key), nil, "", nil); res.Err() != "" {
		d.render(w, res.Status, "error", errorData{page: d.base(info, "keys"), Message: res.Err()})
		return
	}
	seeOther(w, r, "/ns/"+info.ID, url.Values{"notice": {"Deleted " + strconv.Quote(key) + "."}})
}

// --- flags ---

type flagRow struct {
	Name     string
	Flag     flags.Flag
	Bucket   float64
	Decision flags.Decision
	On       bool
}

type flagsData struct {
	page
	Prefix string
	User   string
	Flags  []flagRow
	Error  string
	Name   string // the new-flag form's name, after an error
}

func (d *Dashboard) flagClient(ns kv.Namespace, prefix string) (*flags.Client, error) {
	return flags.New(ns, flags.Options{Prefix: prefix, Clock: d.opts.Clock, Logger: d.opts.Logger})
}

func (d *Dashboard) flagsPage(w http.ResponseWriter, r *http.Request) {
	info, ns, ok := d.namespace(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	d.renderFlags(w, r, ns, http.StatusOK, flagsData{page: d.base(info, "flags"), Prefix: q.Get("prefix"), User: q.Get("user")})
}

func (d *Dashboard) renderFlags(w http.ResponseWriter, r *http.Request, ns kv.Namespace, status int, data flagsData) {
	if data.Prefix == "" {
		data.Prefix = flags.DefaultPrefix
	}
	c, err := d.flagClient(ns, data.Prefix)
	var all map[string]flags.Flag
	if err == nil {
		all, err = c.List(r.Context())
	}
	if err != nil && data.Error == "" {
		data.Error, status = err.Error(), http.StatusBadRequest
	}
	for name, f := range all {
		row := flagRow{Name: name, Flag: f}
		if data.User != "" {
			row.Bucket, row.Decision = flags.Bucket(name, data.User), f.Evaluate(name, data.User)
			row.On = row.Decision.Enabled
		}
		data.Flags = append(data.Flags, row)
	}
	slices.SortFunc(data.Flags, func(a, b flagRow) int { return strings.Compare(a.Name, b.Name) })
	d.render(w, status, "flags", data)
}

// setFlag changes a flag's enabled switch and rollout (creating the flag
// when new), keeping its other fields, through patterns/flags.
func (d *Dashboard) setFlag(w http.ResponseWriter, r *http.Request) {
	info, ns, ok := d.namespace(w, r)
	if !ok {
		return
	}
	name, prefix, user := r.PostFormValue("name"), r.PostFormValue("prefix"), r.PostFormValue("user")
	if prefix == "" {
		prefix = flags.DefaultPrefix
	}
	data := flagsData{page: d.base(info, "flags"), Prefix: prefix, User: user, Name: name}
	c, err := d.flagClient(ns, prefix)
	if err != nil {
		data.Error = err.Error()
		d.renderFlags(w, r, ns, http.StatusBadRequest, data)
		return
	}
	rollout, err := strconv.ParseFloat(strings.TrimSpace(r.PostFormValue("rollout")), 64)
	if err != nil {
		data.Error = flags.ErrInvalidFlag.Error() + ": rollout " + strconv.Quote(r.PostFormValue("rollout")) + " is not a number from 0 to 100"
		d.renderFlags(w, r, ns, http.StatusBadRequest, data)
		return
	}
	if err := flags.ValidateName(prefix, name); err != nil {
		data.Error = err.Error()
		d.renderFlags(w, r, ns, http.StatusBadRequest, data)
		return
	}
	f, _, err := c.Get(r.Context(), name)
	if err == nil {
		f.Enabled, f.RolloutPercent = r.PostFormValue("enabled") != "", rollout
		err = c.Set(r.Context(), name, f)
	}
	if err != nil {
		data.Error = err.Error()
		d.renderFlags(w, r, ns, http.StatusBadRequest, data)
		return
	}
	q := url.Values{}
	if user != "" {
		q.Set("user", user)
	}
	if prefix != flags.DefaultPrefix {
		q.Set("prefix", prefix)
	}
	seeOther(w, r, "/ns/"+info.ID+"/flags", q)
}

// --- counters and sessions ---

// maxScan bounds how many keys the counters and sessions views read.
const maxScan = 10000

// scan reads up to maxScan live entries under prefix, values included.
func scan(r *http.Request, ns *memory.Namespace, prefix string) (entries []kv.Entry[[]byte], truncated bool, err error) {
	var keys []string
	cursor := ""
	for {
		page, err := ns.List(r.Context(), kv.ListOptions{Prefix: prefix, Cursor: cursor})
		if err != nil {
			return nil, false, err
		}
		for _, k := range page.Keys {
			keys = append(keys, k.Name)
		}
		if page.Complete || len(keys) >= maxScan {
			truncated = !page.Complete
			break
		}
		cursor = page.Cursor
	}
	keys = keys[:min(len(keys), maxScan)]
	for chunk := range slices.Chunk(keys, kv.MaxBulkGet) {
		got, err := ns.GetBulk(r.Context(), chunk, kv.GetOptions{})
		if err != nil {
			return nil, false, err
		}
		for _, k := range chunk {
			if it, ok := got[k]; ok {
				entries = append(entries, it)
			}
		}
	}
	return entries, truncated, nil
}

type counterRow struct {
	Name       string
	Value      string
	Number     bool
	Expiration *when
}

type countersData struct {
	page
	Prefix    string
	Counters  []counterRow
	Truncated bool
	Error     string
}

func (d *Dashboard) countersPage(w http.ResponseWriter, r *http.Request) {
	info, ns, ok := d.namespace(w, r)
	if !ok {
		return
	}
	data := countersData{page: d.base(info, "counters"), Prefix: r.URL.Query().Get("prefix")}
	if data.Prefix == "" {
		data.Prefix = counter.DefaultPrefix
	}
	entries, truncated, err := scan(r, ns, data.Prefix)
	status := http.StatusOK
	if err != nil {
		data.Error, status = err.Error(), http.StatusBadRequest
	}
	data.Truncated = truncated
	for _, it := range entries {
		v := string(it.Value)
		_, perr := strconv.ParseInt(v, 10, 64)
		data.Counters = append(data.Counters, counterRow{Name: strings.TrimPrefix(it.Key, data.Prefix), Value: v, Number: perr == nil, Expiration: d.when(it.Expiration)})
	}
	d.render(w, status, "counters", data)
}

type sessionRow struct {
	ID      string // the start of the stored key's hash: never a token
	Created *when
	Expires *when
}

type sessionsData struct {
	page
	Prefix    string
	Count     int          // live sessions
	Live      []sessionRow // the first maxSessionRows, soonest to expire first
	Expired   int          // records past their deadline KV has not dropped yet
	Other     int          // values under the prefix that are not session records
	Truncated bool
	Error     string
}

// maxSessionRows bounds the sessions table (the count covers them all).
const maxSessionRows = 200

func (d *Dashboard) sessionsPage(w http.ResponseWriter, r *http.Request) {
	info, ns, ok := d.namespace(w, r)
	if !ok {
		return
	}
	data := sessionsData{page: d.base(info, "sessions"), Prefix: r.URL.Query().Get("prefix")}
	if data.Prefix == "" {
		data.Prefix = session.DefaultPrefix
	}
	entries, truncated, err := scan(r, ns, data.Prefix)
	status := http.StatusOK
	if err != nil {
		data.Error, status = err.Error(), http.StatusBadRequest
	}
	data.Truncated = truncated
	now := d.opts.Clock()
	type rec struct {
		CreatedAt     int64 `json:"createdAt"`
		ExpiresAt     int64 `json:"expiresAt"`
		IdleExpiresAt int64 `json:"idleExpiresAt"`
	}
	var live []sessionRow
	for _, it := range entries {
		var s rec
		if json.Unmarshal(it.Value, &s) != nil || s.ExpiresAt == 0 {
			data.Other++
			continue
		}
		deadline := s.ExpiresAt
		if s.IdleExpiresAt != 0 && s.IdleExpiresAt < deadline {
			deadline = s.IdleExpiresAt
		}
		if deadline <= now.UnixMilli() {
			data.Expired++
			continue
		}
		id := strings.TrimPrefix(it.Key, data.Prefix)
		if len(id) > 10 {
			id = id[:10] + "…"
		}
		live = append(live, sessionRow{ID: id, Created: d.when(time.UnixMilli(s.CreatedAt)), Expires: d.when(time.UnixMilli(deadline))})
	}
	slices.SortFunc(live, func(a, b sessionRow) int { return int(a.Expires.Unix - b.Expires.Unix) })
	data.Count, data.Live = len(live), live[:min(len(live), maxSessionRows)]
	d.render(w, status, "sessions", data)
}
