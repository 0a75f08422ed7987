// Code generated from README.md by internal/readme; DO NOT EDIT.
// Update it with: go run ./internal/readme/gen

package readme_test

import (
	context "context"
	errors "errors"
	fmt "fmt"
	cfkv "github.com/cloudflare/cloudflare-go/v7/kv"
	option "github.com/cloudflare/cloudflare-go/v7/option"
	kv "github.com/kvkit/kvkit/kv"
	cloudflare "github.com/kvkit/kvkit/kv/cloudflare"
	kvserver "github.com/kvkit/kvkit/kv/kvserver"
	kvtest "github.com/kvkit/kvkit/kv/kvtest"
	memory "github.com/kvkit/kvkit/kv/memory"
	worker "github.com/kvkit/kvkit/kv/worker"
	kvecho "github.com/kvkit/kvkit/middleware/echo"
	httpkey "github.com/kvkit/kvkit/middleware/httpkey"
	nethttp "github.com/kvkit/kvkit/middleware/nethttp"
	cache "github.com/kvkit/kvkit/patterns/cache"
	counter "github.com/kvkit/kvkit/patterns/counter"
	flags "github.com/kvkit/kvkit/patterns/flags"
	kvopenfeature "github.com/kvkit/kvkit/patterns/flags/openfeature"
	session "github.com/kvkit/kvkit/patterns/session"
	echo "github.com/labstack/echo/v4"
	openfeature "github.com/open-feature/go-sdk/openfeature"
	isolated "github.com/open-feature/go-sdk/openfeature/isolated"
	io "io"
	log "log"
	http "net/http"
	httptest "net/http/httptest"
	os "os"
	strings "strings"
	testing "testing"
	time "time"
)

// README.md:68 (A tour)
type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// README.md:296 (The typed client: `kv`)
type Meta struct {
	Owner string `json:"owner"`
}

// README.md:456 (The typed client: `kv`)
func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, now func() time.Time) kv.Namespace {
		return memory.New(memory.Options{Clock: now})
	})
}

// section1 is the section "A tour".
func section1() error {

	// README.md:68

	ns := memory.New(memory.Options{}) // or cloudflare.FromEnv(cloudflare.Options{})

	sessions := session.Must(session.New[User](ns, session.Options{}))
	fl := flags.Must(flags.New(ns, flags.Options{}))
	_ = fl.Set(ctx, "new-ui", flags.Flag{Enabled: true, RolloutPercent: 50})
	pages, _ := cache.NewResponseCache(ns, cache.ResponseOptions{TTL: 30 * time.Second})
	defer pages.Close(context.Background())
	limiter, _ := counter.NewLimiter(ns, 5, time.Minute, counter.LimiterOptions{})
	defer limiter.Close(ctx)
	userID := sessions.UserID(func(u User) string { return u.Name })

	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		if nethttp.FlagsFrom(r).IsEnabled("new-ui") {
			fmt.Fprintln(w, "new UI")
			return
		}
		fmt.Fprintln(w, "classic UI")
	})
	mux.Handle("GET /report", nethttp.Cache(pages)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "an expensive report") // runs once per 30 s
	})))
	mux.Handle("GET /api", nethttp.RateLimit(limiter, httpkey.ByIP(httpkey.IPConfig{}))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })))

	app := nethttp.Session(sessions)(nethttp.Flags(fl, userID)(mux))
	log.Fatal(http.ListenAndServe(":8080", app))

	// README.md:107

	e := echo.New()
	e.Use(kvecho.Session(sessions))
	e.Use(kvecho.Flags(fl, func(c echo.Context) string { return userID(c.Request()) }))
	e.GET("/", func(c echo.Context) error {
		if kvecho.FlagsFrom(c).IsEnabled("new-ui") {
			return c.String(http.StatusOK, "new UI\n")
		}
		return c.String(http.StatusOK, "classic UI\n")
	})
	e.GET("/report", func(c echo.Context) error {
		return c.String(http.StatusOK, "an expensive report\n")
	}, kvecho.Cache(pages))
	e.GET("/api", func(c echo.Context) error {
		return c.String(http.StatusOK, "ok\n")
	}, kvecho.RateLimit(limiter, httpkey.ByIP(httpkey.IPConfig{})))
	e.Logger.Fatal(e.Start(":8080"))

	_ = app
	_ = e
	_ = fl
	_ = limiter
	_ = mux
	_ = ns
	_ = pages
	_ = sessions
	_ = userID
	return nil
}

// section2 is the section "The typed client: `kv`".
func section2() error {

	// README.md:184

	// User is the tour's: type User struct{ ID, Name, Role string } with JSON tags.
	users, err := kv.New[User](memory.New(memory.Options{}), kv.Options{Prefix: "user:"})
	if err != nil {
		log.Fatal(err)
	}
	if err := users.Put(ctx, "42", User{ID: "42", Name: "Ada", Role: "admin"}); err != nil {
		log.Fatal(err)
	}
	u, found, err := users.Get(ctx, "42") // a missing key is found == false, not an error
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(found, u.Name) // true Ada

	// README.md:211

	ns := memory.New(memory.Options{}) // or the Cloudflare backend
	carts, err := kv.New[map[string]int](ns, kv.Options{
		Prefix:       "cart:",          // prepended to every key, stripped when listing
		DefaultTTL:   24 * time.Hour,   // writes expire after a day unless told otherwise
		CacheTTL:     30 * time.Second, // in-process read cache, in this process's memory
		CacheSize:    10_000,           // read cache entries
		EdgeCacheTTL: time.Minute,      // cacheTtl of reads through a Worker's binding (kv/worker)
		Codec:        kv.JSON,          // or kv.Text, kv.Bytes, or your own kv.Codec
		Concurrency:  8,                // parallel calls for GetMany & co. without bulk endpoints
	})
	if err != nil {
		log.Fatal(err) // wraps kv.ErrInvalidOptions
	}

	// README.md:264

	banners := kv.Must(kv.New[string](ns, kv.Options{CacheTTL: 5 * time.Second, EdgeCacheTTL: time.Minute}))
	banner, found, err := banners.Get(ctx, "banner")                                // memory, else the edge (1 min)
	banner, found, err = banners.Get(ctx, "banner", kv.NoCache(), kv.NoEdgeCache()) // as fresh as KV allows
	banner, found, err = banners.Get(ctx, "config", kv.EdgeCacheFor(time.Hour))     // rarely changes
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(banner, found)

	// README.md:277

	s := kv.Must(kv.New[string](ns, kv.Options{DefaultTTL: time.Hour}))

	_ = s.Put(ctx, "a", "uses the default TTL (1h)")
	_ = s.Put(ctx, "b", "expires in 5 minutes", kv.WithTTL(5*time.Minute))
	_ = s.Put(ctx, "c", "expires at a time", kv.WithExpiration(time.Now().Add(48*time.Hour)))
	_ = s.Put(ctx, "d", "never expires", kv.WithoutExpiration())
	_ = s.Put(ctx, "e", "with metadata", kv.WithMetadata(map[string]any{"owner": "ada", "rev": 3}))

	err = s.Put(ctx, "f", "too short", kv.WithTTL(10*time.Second))
	fmt.Println(errors.Is(err, kv.ErrInvalidTTL)) // true, and no request was made

	// README.md:296

	_ = s.Put(ctx, "doc", "body", kv.WithMetadata(Meta{Owner: "ada"}))

	var meta Meta
	v, found, err := s.GetWithMetadata(ctx, "doc", &meta)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v, found, meta.Owner) // body true ada

	// README.md:312

	_ = s.Delete(ctx, "doc")
	_ = s.Delete(ctx, "never-existed") // not an error
	has, err := s.Has(ctx, "doc")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(has) // false

	// README.md:327

	scores := kv.Must(kv.New[int](ns, kv.Options{Prefix: "score:", DefaultTTL: time.Hour}))
	err = scores.PutMany(ctx, []kv.PutEntry[int]{
		{Key: "ada", Value: 10},
		{Key: "bob", Value: 7, TTL: 10 * time.Minute}, // per-entry options
		{Key: "cy", Value: 3, Metadata: map[string]string{"team": "red"}},
	})
	var be *kv.BulkError
	if errors.As(err, &be) {
		fmt.Println("not written:", be.Keys) // the backend failed for these keys only
	}
	got, err := scores.GetMany(ctx, []string{"ada", "bob", "zed"}) // missing keys are left out
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got) // map[ada:10 bob:7]
	if err := scores.DeleteMany(ctx, []string{"ada", "bob"}); err != nil {
		log.Fatal(err)
	}

	// README.md:357

	// Pages are fetched lazily; names come without the Store's prefix.
	for key, err := range users.Keys(ctx, kv.ListOptions{Prefix: "4"}) { // user:4*
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(key.Name, key.Expiration, key.Metadata)
	}
	all, err := users.ListAll(ctx, kv.ListOptions{}) // collect everything
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(all))

	// README.md:376

	page, _ := users.ListPage(ctx, kv.ListOptions{Limit: 2})
	for !page.Complete {
		page, _ = users.ListPage(ctx, kv.ListOptions{Limit: 2, Cursor: page.Cursor})
	}

	// README.md:385

	fmt.Println(kv.ValidateKey("user:42"))                                   // <nil>
	fmt.Println(errors.Is(kv.ValidateKey(".."), kv.ErrInvalidKey))           // true
	full := kv.PrefixKey("user:", "42")                                      // "user:42"
	k, ok := kv.StripPrefix("user:", full)                                   // "42", true
	fmt.Println(errors.Is(kv.ValidateTTL(30*time.Second), kv.ErrInvalidTTL)) // true

	// README.md:403

	p := kv.Must(kv.New[string](ns, kv.Options{Prefix: "p:"}))
	err = p.Put(ctx, "k", "v", kv.WithTTL(time.Second))

	var kerr *kv.Error
	if errors.As(err, &kerr) {
		fmt.Println(kerr.Op, kerr.Key) // put p:k
	}
	fmt.Println(errors.Is(err, kv.ErrInvalidTTL)) // true
	fmt.Println(err)                              // kv: put "p:k": invalid TTL: TTL 1s must be at least 60s

	// README.md:423

	// Raw access: the byte-level binding, full keys, no codec.
	entry, found, err := users.Namespace().Get(ctx, "user:42", kv.GetOptions{WithMetadata: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(found, string(entry.Value)) // true {"id":"42","name":"Ada","role":"admin"}

	// Large values go in and out as streams, without the codec.
	report, err := os.Open("report.pdf")
	if err != nil {
		log.Fatal(err)
	}
	defer report.Close()
	blobs := kv.Must(kv.New[[]byte](ns, kv.Options{Prefix: "blob:", Codec: kv.Bytes}))
	if err := blobs.PutStream(ctx, "report", report, kv.WithTTL(time.Hour)); err != nil {
		log.Fatal(err) // kv.ErrValueTooLarge past 25 MiB, and nothing written
	}
	r, found, err := blobs.GetStream(ctx, "report")
	if err != nil {
		log.Fatal(err)
	}
	if found {
		defer r.Close()
		_, _ = io.Copy(os.Stdout, r)
	}

	_ = all
	_ = banner
	_ = banners
	_ = be
	_ = blobs
	_ = carts
	_ = entry
	_ = found
	_ = full
	_ = got
	_ = has
	_ = k
	_ = kerr
	_ = meta
	_ = ns
	_ = ok
	_ = p
	_ = page
	_ = r
	_ = report
	_ = s
	_ = scores
	_ = u
	_ = users
	_ = v
	return nil
}

// section3 is the section "Caching".
func section3() error {

	// README.md:491

	ns := memory.New(memory.Options{}) // or a Cloudflare namespace
	users, err := cache.New[User](ns, cache.Options{
		Prefix:               "user:",
		TTL:                  time.Minute,
		StaleWhileRevalidate: 30 * time.Second, // serve stale at once, refresh in the background
		StaleIfError:         10 * time.Minute, // keep serving stale while the database is down
		NegativeTTL:          10 * time.Second, // remember unknown ids briefly
	})
	if err != nil {
		panic(err)
	}
	defer users.Close(context.Background())

	loadUser := cache.LoaderFunc[User](func(ctx context.Context, id string) (User, error) {
		fmt.Println("loading", id) // a database query, an API call...
		if id != "42" {
			return User{}, fmt.Errorf("user %s: %w", id, kv.ErrNotFound)
		}
		return User{ID: id, Name: "Ada"}, nil
	})

	ctx := context.Background()
	u, _ := users.Get(ctx, "42", loadUser)
	u, _ = users.Get(ctx, "42", loadUser) // from memory: no load, no KV call

	// README.md:561

	rc, err := cache.NewResponseCache(ns, cache.ResponseOptions{
		TTL:                  time.Minute, // when the response has no max-age / s-maxage
		StaleWhileRevalidate: 30 * time.Second,
		XCache:               true,
	})
	if err != nil {
		panic(err)
	}
	defer rc.Close(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /products", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Cache-Tag", "products")
		_, _ = io.WriteString(w, "product list")
	})
	srv := nethttp.Cache(rc)(mux) // http.ListenAndServe(":8080", srv)

	// README.md:645

	e := echo.New()
	e.Use(kvecho.CacheWithConfig(kvecho.CacheConfig{
		Cache:   rc,
		Skipper: func(c echo.Context) bool { return strings.HasPrefix(c.Path(), "/admin") },
	}))
	e.GET("/products/:id", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"id": c.Param("id")})
	})

	// README.md:782

	rc.PurgeURL(ctx, "https://shop.example/products?page=1") // the URL and all its Vary variants
	rc.PurgeTag(ctx, "products")                             // every response tagged "products"

	_ = ctx
	_ = e
	_ = loadUser
	_ = mux
	_ = ns
	_ = rc
	_ = srv
	_ = u
	_ = users
	return nil
}

// section4 is the section "Sessions".
func section4() error {

	// README.md:898

	cached := session.Must(session.New[User](ns, session.Options{CacheTTL: 5 * time.Second}))

	s := cached.Open("")
	_ = s.Set(ctx, User{ID: "u1", Role: "admin"})
	cookie, _ := s.Commit(ctx) // the write fills the cache
	for range 100 {
		_, _, _ = cached.Open(cookie.Value).Get(ctx) // 100 page views: 0 KV reads
	}

	// README.md:920

	// User is the tour's {ID, Name, Role}: stored as JSON in the session record.
	sessions := session.Must(session.New[User](ns, session.Options{})) // ns: memory or Cloudflare

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		// A new token on sign-in defeats session fixation.
		if err := s.Renew(r.Context()); err != nil {
			http.Error(w, "session unavailable", http.StatusInternalServerError)
			return
		}
		if err := s.Set(r.Context(), User{ID: "u42", Role: "admin"}); err != nil {
			http.Error(w, "session unavailable", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "signed in")
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := sessions.FromContext(r.Context()).Get(r.Context())
		switch {
		case err != nil:
			http.Error(w, "session unavailable", http.StatusInternalServerError)
		case !ok:
			http.Error(w, "sign in first", http.StatusUnauthorized)
		default:
			fmt.Fprintf(w, "hello %s (%s)\n", u.ID, u.Role)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		_ = sessions.FromContext(r.Context()).Destroy(r.Context())
		fmt.Fprintln(w, "signed out")
	})
	log.Fatal(http.ListenAndServe(":8080", nethttp.Session(sessions)(mux)))

	// README.md:958

	// The same sessions Manager as above.
	e := echo.New()
	e.Use(kvecho.Session(sessions)) // or kvecho.SessionWithConfig(kvecho.SessionConfig{Skipper: …, Manager: sessions})
	e.POST("/login", func(c echo.Context) error {
		s := kvecho.SessionFrom(c, sessions)
		ctx := c.Request().Context()
		if err := s.Renew(ctx); err != nil { // no session fixation
			return err
		}
		if err := s.Set(ctx, User{ID: "u42", Role: "admin"}); err != nil {
			return err
		}
		return c.String(http.StatusOK, "signed in\n")
	})
	e.GET("/me", func(c echo.Context) error {
		u, ok, err := kvecho.SessionFrom(c, sessions).Get(c.Request().Context())
		if err != nil {
			return err
		}
		if !ok {
			return echo.NewHTTPError(http.StatusUnauthorized, "sign in first")
		}
		return c.String(http.StatusOK, fmt.Sprintf("hello %s (%s)\n", u.ID, u.Role))
	})
	e.Logger.Fatal(e.Start(":8080"))

	_ = cached
	_ = cookie
	_ = e
	_ = mux
	_ = s
	_ = sessions
	return nil
}

// section5 is the section "Feature flags".
func section5() error {

	// README.md:1162

	fl, err := flags.New(ns, flags.Options{}) // ns: any kv.Namespace
	if err != nil {
		panic(err)
	}
	// Stored under "flag:new-ui" as
	// {"enabled":true,"rolloutPercent":25,"allowlist":["12345"]}.
	err = fl.Set(ctx, "new-ui", flags.Flag{Enabled: true, RolloutPercent: 25, Allowlist: []string{"12345"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(fl.IsEnabled(ctx, "new-ui", "12345"))     // true: allowlisted
	fmt.Println(fl.IsEnabled(ctx, "new-ui", "user-1"))    // false: by bucket
	fmt.Printf("%.4f\n", flags.Bucket("new-ui", "12345")) // 6.7339, as in TypeScript
	fmt.Println(fl.IsEnabled(ctx, "missing", "12345"))    // false

	// README.md:1190

	userID := func(r *http.Request) string { return r.Header.Get("X-User-ID") }

	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		if nethttp.FlagsFrom(r).IsEnabled("new-ui") {
			fmt.Fprintln(w, "new UI")
			return
		}
		fmt.Fprintln(w, "old UI")
	})
	// Served only to users who have the flag; 404 for the others.
	mux.Handle("GET /beta", nethttp.FlagGate("new-ui")(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "beta page") })))
	handler := nethttp.Flags(fl, userID)(mux)

	// README.md:1209

	e := echo.New()
	e.Use(kvecho.Flags(fl, func(c echo.Context) string { return c.Request().Header.Get("X-User-ID") }))
	e.GET("/", func(c echo.Context) error {
		if kvecho.FlagsFrom(c).IsEnabled("new-ui") {
			return c.String(http.StatusOK, "new UI\n")
		}
		return c.String(http.StatusOK, "old UI\n")
	})
	// Served only to users who have the flag; 404 (echo.ErrNotFound) for the others.
	e.GET("/beta", func(c echo.Context) error {
		return c.String(http.StatusOK, "beta page\n")
	}, kvecho.FlagGate("new-ui"))

	// README.md:1243

	p, err := kvopenfeature.New(fl)
	if err != nil {
		panic(err)
	}
	api := isolated.NewAPI() // or the global openfeature.SetProviderAndWait(p)
	defer api.Shutdown(ctx)
	if err := api.SetProviderAndWait(ctx, p); err != nil {
		panic(err)
	}
	client := api.NewClient()

	d, _ := client.BooleanValueDetails(ctx, "new-ui", false, openfeature.NewEvaluationContext("12345", nil))
	fmt.Println(d.Value, d.Reason) // true TARGETING_MATCH
	d, _ = client.BooleanValueDetails(ctx, "missing", false, openfeature.NewEvaluationContext("12345", nil))
	fmt.Println(d.Value, d.Reason, d.ErrorCode) // false ERROR FLAG_NOT_FOUND

	_ = api
	_ = client
	_ = d
	_ = e
	_ = fl
	_ = handler
	_ = mux
	_ = p
	_ = userID
	return nil
}

// section6 is the section "Counters and rate limits".
func section6() error {

	// README.md:1316

	c, err := counter.New(ns, counter.Options{}) // coalesced, keys "count:<name>", 1 s flushes
	if err != nil {
		return err
	}
	defer c.Close(ctx) // writes everything pending and stops the flusher

	n, err := c.Increment(ctx, "visits", 1) // stored + pending; no KV call once known
	n, err = c.Get(ctx, "visits")
	err = c.Reset(ctx, "visits") // deletes the key: a missing counter reads 0

	// README.md:1351

	shards, err := counter.New(ns, counter.Options{Mode: counter.Sharded, Instance: "web-1"})
	if err != nil {
		return err
	}
	defer shards.Close(ctx)

	// README.md:1382

	lim, err := counter.NewLimiter(ns, 100, time.Minute, counter.LimiterOptions{})
	if err != nil {
		return err
	}
	defer lim.Close(ctx)
	res, err := lim.Allow(ctx, "203.0.113.7") // res.Allowed, Limit, Remaining, Reset, RetryAfter
	if err != nil {
		log.Println(err) // KV unreachable: decided from local counts (fail open)
	}
	fmt.Println(res.Allowed, res.Remaining) // true 99

	// README.md:1426

	strict, err := counter.NewLimiter(ns, 5, time.Minute, counter.LimiterOptions{
		ReadOnRequest: true,                   // exact across processes as of their last sync
		KVTimeout:     100 * time.Millisecond, // default 250 ms
	})

	// README.md:1461

	sessions := session.Must(session.New[User](ns, session.Options{}))
	userID := sessions.UserID(func(u User) string { return u.ID }) // "" without a session
	byUser := httpkey.KeyFunc(func(r *http.Request) (string, error) {
		id := userID(r)
		if id == "" {
			return "", httpkey.ErrNoKey // answered with 400
		}
		return "user:" + id, nil
	})

	// README.md:1475

	mux := http.NewServeMux()
	// Behind Cloudflare: CF-Connecting-IP is believed only from Cloudflare's
	// published ranges (httpkey.CloudflareRanges).
	key := httpkey.ByIP(httpkey.IPConfig{Proxies: httpkey.Proxies{Cloudflare: true}})
	handler := nethttp.RateLimitWithConfig(nethttp.RateLimitConfig{
		Limiter: lim, KeyFunc: key,
		Headers: counter.Headers{IETF: true}, // also RateLimit and RateLimit-Policy
	})(mux)

	// README.md:1494

	e := echo.New()
	e.Use(kvecho.RateLimit(lim, httpkey.ByIP(httpkey.IPConfig{})))

	mw, err := kvecho.RateLimitConfig{
		Skipper:    func(c echo.Context) bool { return c.Path() == "/health" },
		Limiter:    lim,
		KeyFunc:    httpkey.ByHeader("X-API-Key"),
		FailClosed: true, // 503 when KV is unreachable (see above for when it is known)
	}.ToMiddleware()

	_ = byUser
	_ = c
	_ = e
	_ = handler
	_ = key
	_ = lim
	_ = mux
	_ = mw
	_ = n
	_ = res
	_ = sessions
	_ = shards
	_ = strict
	_ = userID
	return nil
}

// section7 is the section "Using Cloudflare".
func section7() error {

	// README.md:1539

	ns, err := cloudflare.FromEnv(cloudflare.Options{
		MaxAttempts:   4,                // at most 4 requests per call
		MaxRetryAfter: 30 * time.Second, // a longer 429 wait fails at once
	})
	if err != nil {
		log.Fatal(err)
	}
	users, err := kv.New[User](ns, kv.Options{Prefix: "user:", CacheTTL: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := users.Put(ctx, "42", User{Name: "Ana"}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(ns.Requests().Total(), "requests so far")

	// README.md:1564

	client := cfkv.NewKVService(option.WithAPIToken("your-token"))
	ns, err = cloudflare.New(client, "your-32-hex-account-id", "your-32-hex-namespace-id", cloudflare.Options{})
	if err != nil {
		log.Fatal(err) // malformed IDs, before any request
	}

	_ = cancel
	_ = client
	_ = ctx
	_ = ns
	_ = users
	return nil
}

// section8 is the section "Through a Worker: `kv/worker`".
func section8() error {

	// README.md:1651

	ns, err := worker.FromEnv(worker.Options{}) // KVKIT_WORKER_URL, KVKIT_WORKER_SECRET
	if err != nil {
		log.Fatal(err)
	}
	users, err := kv.New[User](ns, kv.Options{Prefix: "user:", EdgeCacheTTL: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	u, found, err := users.Get(ctx, "42") // one request to the Worker; the edge may answer it for a minute
	fmt.Println(ns.Requests().Total(), "requests to the Worker,", ns.Requests().KVOperations, "KV operations")

	_ = found
	_ = ns
	_ = u
	_ = users
	return nil
}

// section9 is the section "Developing offline with `kvkit serve`".
func section9() error {

	// README.md:1881

	srv, err := kvserver.New(kvserver.Options{Token: "secret"})
	if err != nil {
		log.Fatal(err)
	}
	nsID := srv.CreateNamespace("", "example")
	ts := httptest.NewServer(srv)
	defer ts.Close()

	client := cfkv.NewKVService(option.WithBaseURL(ts.URL+"/client/v4"), option.WithAPIToken("secret"), option.WithHTTPClient(ts.Client()))
	ns, err := cloudflare.New(client, "00000000000000000000000000000001", nsID, cloudflare.Options{
		// Record the waits instead of sleeping them.
		Sleep: func(ctx context.Context, d time.Duration) error { fmt.Println("waiting", d); return nil },
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := ns.Put(ctx, "greeting", []byte("hello"), kv.PutOptions{}); err != nil {
		log.Fatal(err)
	}

	srv.Inject(kvserver.RouteGetValue,
		kvserver.Fault{Status: 429, RetryAfter: 2 * time.Second},
		kvserver.Fault{Status: 429, RetryAfter: time.Second})
	it, _, err := ns.Get(ctx, "greeting", kv.GetOptions{})
	fmt.Println(string(it.Value), err, srv.Hits(kvserver.RouteGetValue), "requests")
	// waiting 2s
	// waiting 1s
	// hello <nil> 3 requests

	_ = client
	_ = ctx
	_ = it
	_ = ns
	_ = nsID
	_ = srv
	_ = ts
	return nil
}
