package kvserver_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvserver"
)

// TestInvalidUTF8KeysRefusedOnTheWire: a percent-escaped key or list prefix
// that decodes to bytes which are not UTF-8 is refused with 400, and nothing
// is stored (cloudflare-kv.md §6: keys are text).
func TestInvalidUTF8KeysRefusedOnTheWire(t *testing.T) {
	t.Parallel()
	srv, err := kvserver.New(kvserver.Options{})
	require.NoError(t, err)
	id := srv.CreateNamespace("", "test")
	base := "/client/v4/accounts/" + acc + "/storage/kv/namespaces/" + id
	for _, tc := range []struct{ method, path string }{
		{http.MethodPut, base + "/values/bad%FF%FEkey"},
		{http.MethodGet, base + "/values/bad%FF%FEkey"},
		{http.MethodGet, base + "/metadata/caf%C3"},
		{http.MethodDelete, base + "/values/%ED%A0%80"},
		{http.MethodGet, base + "/keys?prefix=caf%C3"},
	} {
		res, _, env := do(t, srv, tc.method, tc.path, "", []byte("v"))
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, "%s %s", tc.method, tc.path)
		if assert.Len(t, env.Errors, 1, "%s %s", tc.method, tc.path) {
			assert.Contains(t, env.Errors[0].Message, "UTF-8")
		}
	}
	mem, ok := srv.Namespace(id)
	require.True(t, ok)
	page, err := mem.List(context.Background(), kv.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, page.Keys, "nothing stored")
}
