package demo

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvserver"
)

// -backend local with nothing exported reaches the namespace kvkit serve
// creates at start-up with its defaults (here on a free port: only the
// base URL is given), so `kvkit flags set` and the demo share it.
func TestLocalBackendUsesServeDefaults(t *testing.T) {
	srv, err := kvserver.New(kvserver.Options{}) // namespaces only once created, as kvkit serve
	require.NoError(t, err)
	srv.CreateNamespace(kvserver.DefaultNamespaceID, kvserver.DefaultNamespaceTitle)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	b, err := openBackend("local", func(k string) string {
		if k == "CLOUDFLARE_BASE_URL" {
			return ts.URL + "/client/v4"
		}
		return ""
	})
	require.NoError(t, err)
	require.NoError(t, b.NS.Put(context.Background(), "flag:new-ui", []byte(`{"enabled":true}`), kv.PutOptions{}))
	ns, ok := srv.Namespace(kvserver.DefaultNamespaceID)
	require.True(t, ok)
	_, found, err := ns.Get(context.Background(), "flag:new-ui", kv.GetOptions{})
	require.NoError(t, err)
	assert.True(t, found, "written to kvkit serve's default namespace")
}
