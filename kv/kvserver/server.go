package kvserver

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
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

// Cloudflare error codes the server uses (docs/cloudflare-kv.md §2).
const (
	codeGeneric           = 10000 // authentication and unclassified errors
	codeBadRequest        = 10001 // a request KV rejects (limits, bad JSON)
	codeKeyNotFound       = 10009 // "get: 'key not found'"
	codeNamespaceNotFound = 10013 // local choice; the real code is unverified
	codeNamespaceExists   = 10014 // a title already in use
)

// Options configures a Server. The zero value serves any request with no
// authentication, and namespaces must be created through the API (or
// [Server.CreateNamespace]) before use.
type Options struct {
	// Token, when set, is the API token every request must carry as
	// "Authorization: Bearer <token>"; others get 401 with code 10000.
	// Default: "" (no authentication).
	Token string
	// AccountID, when set, is the only account ID the server answers for;
	// other account IDs get 404. Default: "" (any account ID).
	AccountID string
	// AutoCreate creates a namespace the first time a request names an
	// unknown namespace ID, instead of answering 404. Default: false.
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
// id is "") and title, and returns its ID. An existing ID is kept as it is.
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
		writeError(w, http.StatusNotFound, 7003, "Could not route to "+r.URL.Path+", perhaps your object identifier is invalid?")
		return
	}
	if s.opts.AccountID != "" && seg[1] != s.opts.AccountID {
		writeError(w, http.StatusNotFound, 7003, "Could not route to "+r.URL.Path+", perhaps your object identifier is invalid?")
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

func (s *Server) authorized(r *http.Request) bool {
	got := r.Header.Get("Authorization")
	want := "Bearer " + s.opts.Token
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
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

type resultInfo struct {
	Count      int     `json:"count"`
	Cursor     *string `json:"cursor,omitempty"`
	Page       int     `json:"page,omitempty"`
	PerPage    int     `json:"per_page,omitempty"`
	TotalCount int     `json:"total_count,omitempty"`
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
// real namespace gives for it (docs/cloudflare-kv.md §1, §6).
func (s *Server) writeKVError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, kv.ErrInvalidKey) && strings.Contains(err.Error(), "limit is 512"):
		status = http.StatusRequestURITooLong
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

func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if page < 1 {
		page = 1
	}
	if perPage < 1 || perPage > 1000 {
		perPage = 20
	}
	s.mu.Lock()
	all := make([]namespaceJSON, 0, len(s.spaces))
	for _, sp := range s.spaces {
		all = append(all, sp.json())
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b namespaceJSON) int { return strings.Compare(a.Title, b.Title) })
	lo := min((page-1)*perPage, len(all))
	hi := min(lo+perPage, len(all))
	writeResult(w, all[lo:hi], &resultInfo{Count: hi - lo, Page: page, PerPage: perPage, TotalCount: len(all)})
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

// FirstNamespace returns the ID of the namespace that sorts first by ID, or
// "" when there is none.
func (s *Server) FirstNamespace() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := ""
	for id := range s.spaces {
		if first == "" || id < first {
			first = id
		}
	}
	return first
}
