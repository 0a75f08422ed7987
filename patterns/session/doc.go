// Package session is a typed session store over Workers KV: a
// [Manager] generic in the session data type T creates, loads, saves,
// renews and destroys sessions, each stored as JSON under a key prefix
// (default "session:") so that a TypeScript Worker sharing the namespace can
// read it.
//
// The middleware in middleware/nethttp and middleware/echo connects a
// Manager to HTTP; handlers reach the request's [Session] with
// [Manager.FromContext]:
//
//	type User struct{ ID, Role string }
//
//	sessions := session.Must(session.New[User](ns, session.Options{IdleTimeout: time.Hour}))
//	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
//		s := sessions.FromContext(r.Context())
//		_ = s.Renew(r.Context()) // new token on sign-in: no session fixation
//		_ = s.Set(r.Context(), User{ID: "u1", Role: "admin"})
//	})
//	http.ListenAndServe(":8080", nethttp.Session(sessions)(mux))
//
// # KV calls
//
// Every KV call is an HTTPS round trip through the REST API, so the
// session costs as few as possible: a request whose handler never looks at
// the session makes no call; a cookie that is not exactly a token of this
// package's form (43 characters of URL-safe base64, 256 random bits) makes
// no call; reading makes one Get; a write happens only when the handler
// changes the session through [Session.Set], [Session.Update],
// [Session.Renew], [Session.Destroy] or [Session.SetLifetime], or when a
// sliding idle deadline needs refreshing (at most once per half idle
// window). By default the record is never kept in a local read cache, as
// another server may have destroyed it; see "Read cache" for the opt-in.
//
// # Read cache
//
// Options.CacheTTL turns on a bounded in-process cache of records
// (Options.CacheSize entries, default 10,000): a signed-in user's page
// views within CacheTTL cost one KV read between them instead of one each,
// and a token with no record is remembered as absent for CacheTTL, so a
// forged but well-formed token costs at most one read per CacheTTL. Each
// load still checks the record's absolute and idle deadlines against the
// Manager's clock, and an entry never outlives the record's deadline. Every
// write this Manager makes updates the cache at once, and a read that raced
// a write never puts the older record back, so in this process a change, a
// Renew (the old token is dead at once) or a Destroy is seen immediately.
//
// What it costs in consistency: a session destroyed, renewed or changed by
// ANOTHER server (or by a Worker sharing the namespace) stays usable here,
// as it was, for up to CacheTTL, on top of KV's own propagation delay of
// about 60 s. Keep CacheTTL to a few seconds: enough to absorb a burst of
// page views and their asset requests, short against KV's own window.
//
// # Caches
//
// A page rendered from a session belongs to one client. The middleware
// adds no-store (keeping the handler's own Cache-Control directives) and
// Vary: Cookie to every response that sets or expires the session cookie,
// so no cache, shared or not, stores it (OWASP Session Management Cheat
// Sheet). And a Session marks its request as personal when the handler
// reads the session the client presented (any cookie of the session's
// name, even a forged one) or changes the session: kvkit's response cache
// (patterns/cache) never stores such a response for others, whether it runs
// outside or inside the session middleware. Reading the session of a
// request that carries no session cookie does not mark it: the page is the
// one every visitor without a session gets.
//
// # Tokens and keys
//
// Tokens are 256 bits from crypto/rand. The KV key is the prefix and the
// SHA-256 of the token, so whoever can list or read the namespace learns no
// usable token. A token the client sends for a session that does not exist
// is never adopted: creating a session always mints a new one.
//
// # Expiry
//
// A record holds its absolute deadline (Options.Lifetime, default 24 h) and,
// when an idle timeout is set, its idle deadline, in milliseconds since the
// Unix epoch (createdAt, expiresAt, idleTimeout, idleExpiresAt beside data).
// They are checked on every load, because KV removes expired keys only
// eventually: an expired record is treated as absent and deleted. The KV TTL
// of a record is its remaining lifetime, rounded up to whole seconds and
// never under KV's 60 s minimum. [Session.SetLifetime] changes both limits
// for one session ("remember me").
//
// # Sign-out across servers and locations
//
// Workers KV is eventually consistent. A Destroy (or Renew) deletes the
// record at once in the location that made the call, but other Cloudflare
// locations may keep serving the old record from their caches for up to
// about 60 s (KV's documented propagation delay), so a stolen cookie
// replayed through another location can outlive sign-out by that long. What
// this package does to narrow the window: the browser's cookie is expired
// in the same response; by default the record is never cached in process,
// so a server sees the deletion as soon as its KV location does (with
// Options.CacheTTL, up to CacheTTL later on servers other than the one that
// signed out: see "Read cache"); deadlines are checked
// on load, so an expired session is refused everywhere at the same instant
// whatever KV still holds; and Renew deletes the old record before writing
// the new one, so a failure leaves the user signed out rather than on a
// token an attacker may know. Applications that need sign-out to be
// immediate everywhere must keep a revocation list in a strongly consistent
// store (for example a Durable Object) and check it on sensitive requests.
package session
