package cloudflare_test

import (
	"context"
	"testing"
	"time"

	cfkv "github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/cloudflare"
	"github.com/kvkit/kvkit/kv/kvtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fastRetries keeps retry tests quick: real sleeps of a millisecond or two.
var fastRetries = cloudflare.Options{BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

// newBackend starts a local server and returns a backend talking to it
// through the real SDK over real HTTP.
func newBackend(t testing.TB, now func() time.Time, opts cloudflare.Options) (*cloudflare.Namespace, *kvtest.Server) {
	t.Helper()
	srv := kvtest.NewServer(t, kvtest.ServerOptions{Clock: now})
	client := cfkv.NewKVService(
		option.WithBaseURL(srv.BaseURL),
		option.WithAPIToken(srv.Token),
		option.WithHTTPClient(srv.Client()),
	)
	opts.Clock = now
	ns, err := cloudflare.New(client, srv.AccountID, srv.NamespaceID, opts)
	require.NoError(t, err)
	return ns, srv
}

func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, now func() time.Time) kv.Namespace {
		ns, _ := newBackend(t, now, fastRetries)
		return ns
	})
}

// Keys that trip naive URL building, each checked on every single-key
// endpoint and in listings.
func TestTrickyKeys(t *testing.T) {
	t.Parallel()
	ns, srv := newBackend(t, time.Now, fastRetries)
	ctx := context.Background()
	keys := append([]string{"a/b/../c", "..a", "a..", "%", "%%", "?", "#", "#?%/", "a b c", "😀/😀", "k?x=1&y=2#frag", "%zz"}, kvtest.ValidKeys...)
	for _, k := range keys {
		require.NoError(t, ns.Put(ctx, k, []byte("v:"+k), kv.PutOptions{Metadata: []byte(`{"k":1}`)}), "put %q", k)
		it, found, err := ns.Get(ctx, k, kv.GetOptions{})
		require.NoError(t, err)
		require.True(t, found, "get %q", k)
		require.Equal(t, "v:"+k, string(it.Value))
		it, found, err = ns.Get(ctx, k, kv.GetOptions{WithMetadata: true})
		require.NoError(t, err)
		require.True(t, found, "get with metadata %q", k)
		require.JSONEq(t, `{"k":1}`, string(it.Metadata))
		// The memory backend behind the server holds exactly this key.
		mem, _ := srv.Namespace(srv.NamespaceID)
		_, found, err = mem.Get(ctx, k, kv.GetOptions{})
		require.NoError(t, err)
		require.True(t, found, "server stored %q under another name", k)
		require.NoError(t, ns.Delete(ctx, k))
		_, found, err = mem.Get(ctx, k, kv.GetOptions{})
		require.NoError(t, err)
		require.False(t, found, "delete %q removed another key", k)
	}
}
