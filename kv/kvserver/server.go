package kvserver

import (
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
)

// Cloudflare error codes the server uses (docs/kvserver.md says which are
// verified and which are choices).
const (
	codeGeneric           = 10000 // authentication and unclassified errors
	codeBadRequest        = 10001 // a request KV rejects (limits, bad JSON, bad paging)
	codeKeyNotFound       = 10009 // "get: 'key not found'"
	codeNamespaceNotFound = 10013 // an unknown or deleted namespace
	codeNamespaceExists   = 10014 // a title already in use
	codeNoRoute           = 7003  // an account the server does not answer for
)

// The defaults `kvkit serve` starts with, so that clients configured with
// nothing (the demo's -backend local, the kvkit command) find it: the
// address, the API base URL on it, the account ID and the namespace it
// creates at start-up, and the token it prints when it accepts any.
const (
	DefaultAddr           = "127.0.0.1:8787"
	DefaultBaseURL        = "http://" + DefaultAddr + "/client/v4"
	DefaultAccountID      = "00000000000000000000000000000001"
	DefaultNamespaceID    = "00000000000000000000000000000d30"
	DefaultNamespaceTitle = "kvkit"
	DefaultToken          = "local"
)

// Limits of the namespace endpoints (the API reference: title maxLength
// 512; page minimum 1; per_page 1..1000).
const (
	maxTitle       = 512
	maxPerPage     = 1000
	defaultPerPage = 20
	minListLimit   = 10 // the REST API's minimum key-list limit (the binding's is 1)
)

// Options configures a Server. The zero value serves any request with no
// authentication, and namespaces must be created through the API (or
// [Server.CreateNamespace]) before use.
type Options struct {
	// Token, when set, is the API token every request must carry, either
	// as "Authorization: Bearer <token>" (an API token, what wrangler and
	// the SDKs send for CLOUDFLARE_API_TOKEN) or as "X-Auth-Key: <token>"
	// with any non-empty "X-Auth-Email" (the legacy global API key form,
	// what they send for CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL). Other
	// requests get 401 with code 10000. Default: "" (no authentication).
	Token string
	// AccountID, when set, is the only account ID the server answers for;
	// other account IDs get 404. Default: "" (any account ID).
	AccountID string
	// AutoCreate creates a namespace the first time a request names an
	// unknown namespace ID, instead of answering 404 with code 10013 as the
	// real API does. A convenience for throwaway test servers; it hides
	// bugs in code that gets a namespace ID wrong. Default: false.
	AutoCreate bool
	// Clock returns the current time; every namespace's memory backend uses
	// it for expirations. Default: time.Now.
	Clock func() time.Time
	// Logger receives one line per failed request at Debug level.
	// Default: a logger that discards everything.
	Logger *slog.Logger
}

// Server is an http.Handler that speaks the Cloudflare v4 Workers KV REST
// API, backed by one [memory.Namespace] per namespace ID. It is safe for
// concurrent use and starts no goroutines.
type Server struct {
	opts Options
	now  func() time.Time
	log  *slog.Logger

	mu     sync.Mutex
	spaces map[string]*space
	faults map[Route][]Fault
	hits   map[Route]int
}

type space struct {
	id    string
	title string
	ns    *memory.Namespace
}

// New returns a Server with no namespaces.
func New(opts Options) (*Server, error) {
	if strings.ContainsAny(opts.Token, " \t\r\n") {
		return nil, errors.New("kvserver: token must not contain whitespace")
	}
	if opts.AccountID != "" && strings.Contains(opts.AccountID, "/") {
		return nil, errors.New("kvserver: account ID must not contain '/'")
	}
	s := &Server{
		opts:   opts,
		now:    opts.Clock,
		log:    opts.Logger,
		spaces: map[string]*space{},
		faults: map[Route][]Fault{},
		hits:   map[Route]int{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// NewNamespaceID returns a random 32-hex-digit namespace ID, the form
// Cloudflare uses.
func NewNamespaceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CreateNamespace adds a namespace with the given ID (a new random one when
// id is "") and title (default "kvkit-" + id), and returns its ID. An
// existing ID is kept as it is. Unlike the API's create, it does not check
// that the title is free: it is for seeding a server in Go.
func (s *Server) CreateNamespace(id, title string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" {
		id = NewNamespaceID()
	}
	if _, ok := s.spaces[id]; !ok {
		s.spaces[id] = s.newSpace(id, title)
	}
	return id
}

func (s *Server) newSpace(id, title string) *space {
	if title == "" {
		title = "kvkit-" + id
	}
	return &space{id: id, title: title, ns: memory.New(memory.Options{Clock: s.now})}
}

// Namespace returns the backend of namespace id, to seed or inspect it
// directly.
func (s *Server) Namespace(id string) (*memory.Namespace, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.spaces[id]
	if !ok {
		return nil, false
	}
	return sp.ns, true
}

// NamespaceInfo describes one namespace, as the API lists it.
type NamespaceInfo struct {
	ID    string
	Title string
}

// Namespaces returns every namespace, by title.
func (s *Server) Namespaces() []NamespaceInfo {
	s.mu.Lock()
	out := make([]NamespaceInfo, 0, len(s.spaces))
	for _, sp := range s.spaces {
		out = append(out, NamespaceInfo{ID: sp.id, Title: sp.title})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b NamespaceInfo) int {
		return cmp.Or(strings.Compare(a.Title, b.Title), strings.Compare(a.ID, b.ID))
	})
	return out
}

// lookup finds (or, with AutoCreate, makes) namespace id.
func (s *Server) lookup(id string) (*space, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.spaces[id]
	if !ok && s.opts.AutoCreate && id != "" {
		sp = s.newSpace(id, "")
		s.spaces[id] = sp
		ok = true
	}
	return sp, ok
}

// ServeHTTP implements http.Handler. Paths are accepted with or without the
// "/client/v4" prefix of the real API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opts.Token != "" && !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, codeGeneric, "Authentication error")
		return
	}
	raw := strings.TrimPrefix(r.URL.EscapedPath(), "/client/v4")
	seg := strings.Split(strings.Trim(raw, "/"), "/")
	// accounts/{acc}/storage/kv/namespaces[/{id}[/...]]
	if len(seg) < 5 || seg[0] != "accounts" || seg[2] != "storage" || seg[3] != "kv" || seg[4] != "namespaces" {
		writeError(w, http.StatusNotFound, codeNoRoute, "Could not route to "+r.URL.Path+", perhaps your object identifier is invalid?")
		return
	}
	if s.opts.AccountID != "" && seg[1] != s.opts.AccountID {
		writeError(w, http.StatusNotFound, codeNoRoute, "Could not route to "+r.URL.Path+", perhaps your object identifier is invalid?")
		return
	}
	rest := seg[5:]
	if len(rest) == 0 {
		switch r.Method {
		case http.MethodGet:
			s.serve(w, r, RouteListNamespaces, s.listNamespaces)
		case http.MethodPost:
			s.serve(w, r, RouteCreateNamespace, s.createNamespace)
		default:
			methodNotAllowed(w)
		}
		return
	}
	id := rest[0]
	var h func(http.ResponseWriter, *http.Request, call)
	var route Route
	key := ""
	switch {
	case len(rest) == 1:
		switch r.Method {
		case http.MethodGet:
			route, h = RouteGetNamespace, s.getNamespace
		case http.MethodPut:
			route, h = RouteRenameNamespace, s.renameNamespace
		case http.MethodDelete:
			route, h = RouteDeleteNamespace, s.deleteNamespace
		}
	case len(rest) == 3 && (rest[1] == "values" || rest[1] == "metadata"):
		k, err := url.PathUnescape(rest[2])
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, "invalid key escape: "+err.Error())
			return
		}
		key = k
		switch {
		case rest[1] == "metadata" && r.Method == http.MethodGet:
			route, h = RouteGetMetadata, s.getMetadata
		case r.Method == http.MethodGet:
			route, h = RouteGetValue, s.getValue
		case r.Method == http.MethodPut:
			route, h = RoutePutValue, s.putValue
		case r.Method == http.MethodDelete:
			route, h = RouteDeleteValue, s.deleteValue
		}
	case len(rest) == 2 && rest[1] == "keys" && r.Method == http.MethodGet:
		route, h = RouteListKeys, s.listKeys
	case len(rest) == 2 && rest[1] == "bulk" && r.Method == http.MethodPut:
		route, h = RouteBulkWrite, s.bulkWrite
	case len(rest) == 3 && rest[1] == "bulk" && rest[2] == "delete" && r.Method == http.MethodPost:
		route, h = RouteBulkDelete, s.bulkDelete
	case len(rest) == 3 && rest[1] == "bulk" && rest[2] == "get" && r.Method == http.MethodPost:
		route, h = RouteBulkGet, s.bulkGet
	case len(rest) == 2 && rest[1] == "bulk" && r.Method == http.MethodDelete:
		route, h = RouteBulkDelete, s.bulkDelete // the older endpoint wrangler used
	}
	if h == nil {
		if len(rest) >= 2 && (rest[1] == "values" || rest[1] == "metadata") && len(rest) != 3 {
			// An unescaped "/" in a key, or "." / ".." resolved away.
			writeError(w, http.StatusNotFound, codeGeneric, "No route for that URI (escape keys with url.PathEscape)")
			return
		}
		methodNotAllowed(w)
		return
	}
	f, _ := s.take(route)
	if f.apply(w, r) {
		return
	}
	sp, ok := s.lookup(id)
	if !ok {
		writeError(w, http.StatusNotFound, codeNamespaceNotFound, "namespace not found")
		return
	}
	h(w, r, call{sp: sp, key: key, fault: f})
}

// call is what a namespace handler works on.
type call struct {
	sp    *space
	key   string // the unescaped key of values/metadata routes
	fault Fault  // the fault taken for this request (EmptyPage, FailKeys)
}

// serve counts a request to an account-level route, applies its next fault,
// and handles it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, route Route, h http.HandlerFunc) {
	f, _ := s.take(route)
	if f.apply(w, r) {
		return
	}
	h(w, r)
}

// authorized accepts "Authorization: Bearer <token>" (the scheme in any
// case, RFC 9110 §11.1), or, when no
// Authorization header is sent, "X-Auth-Key: <token>" with a non-empty
// "X-Auth-Email" (any address: the server has no users).
func (s *Server) authorized(r *http.Request) bool {
	want := []byte(s.opts.Token)
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, got, ok := strings.Cut(h, " ")
		return ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(got), want) == 1
	}
	if key := r.Header.Get("X-Auth-Key"); key != "" && r.Header.Get("X-Auth-Email") != "" {
		return subtle.ConstantTimeCompare([]byte(key), want) == 1
	}
	return false
}

// envelope is the v4 response wrapper.
type envelope struct {
	Success    bool        `json:"success"`
	Errors     []apiError  `json:"errors"`
	Messages   []apiError  `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo *resultInfo `json:"result_info,omitempty"`
}

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// resultInfo is the envelope's result_info: {count, cursor} for key
// listings, {page, per_page, count, total_count, total_pages} for namespace
// listings.
type resultInfo struct {
	Count      int     `json:"count"`
	Cursor     *string `json:"cursor,omitempty"`
	Page       *int    `json:"page,omitempty"`
	PerPage    *int    `json:"per_page,omitempty"`
	TotalCount *int    `json:"total_count,omitempty"`
	TotalPages *int    `json:"total_pages,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeResult(w http.ResponseWriter, result any, info *resultInfo) {
	writeJSON(w, http.StatusOK, envelope{Success: true, Errors: []apiError{}, Messages: []apiError{}, Result: result, ResultInfo: info})
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, envelope{Errors: []apiError{{Code: code, Message: msg}}, Messages: []apiError{}})
}

func methodNotAllowed(w http.ResponseWriter) {
	writeError(w, http.StatusMethodNotAllowed, codeGeneric, "Method not allowed")
}

// writeKVError answers a failure of the memory backend with the status a
// real namespace gives for it (docs/kvserver.md).
func (s *Server) writeKVError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, kv.ErrInvalidKey) && strings.Contains(err.Error(), "limit is 512"):
		status = http.StatusRequestURITooLong // a key or prefix over 512 bytes, as the binding answers
	case errors.Is(err, kv.ErrValueTooLarge), errors.Is(err, kv.ErrMetadataTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		return // the client went away
	}
	s.log.Debug("kvserver: request rejected", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	writeError(w, status, codeBadRequest, err.Error())
}

// --- namespaces ---

type namespaceJSON struct {
	ID                  string `json:"id"`
	Title               string `json:"title"`
	SupportsURLEncoding bool   `json:"supports_url_encoding"`
}

func (sp *space) json() namespaceJSON {
	return namespaceJSON{ID: sp.id, Title: sp.title, SupportsURLEncoding: true}
}

// listNamespaces answers GET …/namespaces?order=&direction=&page=&per_page=
// as the API reference defines them: order id|title (default title),
// direction asc|desc (default asc), page >= 1 (default 1), per_page 1..1000
// (default 20). A value out of range is a 400, not a silent default; a
// page past the end is an empty page (both SDKs page until one).
func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, err := intParam(q, "page", 1, 1, math.MaxInt32)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	perPage, err := intParam(q, "per_page", defaultPerPage, 1, maxPerPage)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	order := q.Get("order")
	switch order {
	case "":
		order = "title"
	case "id", "title":
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest, "order must be \"id\" or \"title\", got "+strconv.Quote(order))
		return
	}
	direction := q.Get("direction")
	switch direction {
	case "":
		direction = "asc"
	case "asc", "desc":
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest, "direction must be \"asc\" or \"desc\", got "+strconv.Quote(direction))
		return
	}
	s.mu.Lock()
	all := make([]namespaceJSON, 0, len(s.spaces))
	for _, sp := range s.spaces {
		all = append(all, sp.json())
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b namespaceJSON) int {
		c := strings.Compare(a.ID, b.ID)
		if order == "title" {
			c = cmp.Or(strings.Compare(a.Title, b.Title), c)
		}
		if direction == "desc" {
			c = -c
		}
		return c
	})
	lo := min((page-1)*perPage, len(all))
	hi := min(lo+perPage, len(all))
	count, total, pages := hi-lo, len(all), (len(all)+perPage-1)/perPage
	writeResult(w, all[lo:hi], &resultInfo{Count: count, Page: &page, PerPage: &perPage, TotalCount: &total, TotalPages: &pages})
}

// intParam reads query parameter name as a whole number in lo..hi, def
// when absent. The SDKs send numbers as floats ("20" or "20.0" both work).
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, errors.New("Invalid " + name + " of " + strconv.Quote(v) + ": must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi))
	}
	return int(f), nil
}

func decodeTitle(r *http.Request) (string, error) {
	var body struct {
		Title string `json:"title"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		return "", errors.New("request body must be JSON with a title")
	}
	if body.Title == "" {
		return "", errors.New("title is required")
	}
	if len(body.Title) > maxTitle {
		return "", errors.New("title is " + strconv.Itoa(len(body.Title)) + " bytes, limit is 512")
	}
	return body.Title, nil
}

func (s *Server) titleTaken(title, except string) bool {
	for _, sp := range s.spaces {
		if sp.title == title && sp.id != except {
			return true
		}
	}
	return false
}

func (s *Server) createNamespace(w http.ResponseWriter, r *http.Request) {
	title, err := decodeTitle(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	if s.titleTaken(title, "") {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, codeNamespaceExists, "a namespace with this account ID and title already exists")
		return
	}
	sp := s.newSpace(NewNamespaceID(), title)
	s.spaces[sp.id] = sp
	s.mu.Unlock()
	writeResult(w, sp.json(), nil)
}

func (s *Server) getNamespace(w http.ResponseWriter, _ *http.Request, c call) {
	sp := c.sp
	s.mu.Lock()
	defer s.mu.Unlock()
	writeResult(w, sp.json(), nil)
}

func (s *Server) renameNamespace(w http.ResponseWriter, r *http.Request, c call) {
	sp := c.sp
	title, err := decodeTitle(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.titleTaken(title, sp.id) {
		writeError(w, http.StatusBadRequest, codeNamespaceExists, "a namespace with this account ID and title already exists")
		return
	}
	sp.title = title
	writeResult(w, sp.json(), nil)
}

func (s *Server) deleteNamespace(w http.ResponseWriter, _ *http.Request, c call) {
	sp := c.sp
	s.mu.Lock()
	delete(s.spaces, sp.id)
	s.mu.Unlock()
	writeResult(w, struct{}{}, nil)
}
