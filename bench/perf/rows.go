package main

// rows is the table, in the order, then the memory figures the
// README's Performance section quotes.
var rows = []Row{
	{"stack-nethttp", "Session + flags (by session user) + rate limit + flag gate + cache hit (anonymous visitor) vs bare handler, net/http", "≤ 2×", rowStackNetHTTP},
	{"stack-echo", "Session + flags (by session user) + rate limit + flag gate + cache hit (anonymous visitor) vs bare handler, Echo", "≤ 2×", rowStackEcho},
	{"session-untouched", "Request with a session cookie the handler never touches vs bare", "≤ 1.1×", rowSessionUntouched},
	{"session-modify", "Session modify vs scs", "≤ 0.2×", rowSessionModify},
	{"cache-hot", "Read-through cache.Get on a hot key vs otter used directly", "≤ 1.2×", rowCacheHot},
	{"cache-cold64", "Cold key, 64 callers at once, vs x/sync/singleflight alone", "≤ 1.2×, allocs ≤ singleflight's", rowCacheCold64},
	{"counter-inc", "Counter Increment vs a mutex-guarded map", "≤ 1.2×", rowCounterInc},
	{"respcache-100k", "Response-cache hit at 100k URLs vs at 10 URLs", "≤ 1.5×", rowRespCacheScale},
	{"respcache-mem", "Response-cache memory per entry, 1 KiB body", "≤ body + 400 B", rowRespCacheMem},
	{"respcache-304", "Response-cache 304 from the cache (If-None-Match) vs a cached 200 hit, 1 KiB body", "≤ 0.8×", rowResp304},
	{"respcache-loopback", "Response-cache hit through a real http.Server over loopback vs the bare handler behind one", "≤ 1.11× (≥ 0.9× throughput)", rowRespLoopback},
	{"session-100k", "Session read with 100k live sessions vs with 10 (embedded backend)", "≤ 1.2×", rowSessionScale},
	{"session-100k-read", "The same, the read alone (Open + Get, no HTTP)", "≤ 1.2×", rowSessionScaleRead},
	{"flags-10k", "Flag check with 10k flags vs with 10", "≤ 1.3×", rowFlagsScale},
	{"flags-first", "First check of each flag with 10k flags (time to load all)", "≤ 50 ms", rowFlagsFirst},
	{"counter-flush", "Counter flush of 100k dirty keys", "≤ 0.2 s, bulk writes ≤ 10,000", rowCounterFlush},
	{"mem-session", "Memory per live session (embedded backend)", "-", rowSessionMem},
	{"mem-counter", "Memory per counter key", "-", rowCounterMem},
	{"mem-flag", "Memory per flag", "-", rowFlagMem},
}
