package demo

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignInName(t *testing.T) {
	for _, ok := range []string{"ada", "Ada_Lovelace-1", " grace "} {
		_, err := SignInName(ok)
		assert.NoError(t, err, ok)
	}
	for _, bad := range []string{"", "   ", "../x", "a b", "<script>", "é", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		_, err := SignInName(bad)
		assert.Error(t, err, bad)
	}
}

func TestOpenBackend(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	b, err := openBackend("memory", env(nil))
	require.NoError(t, err)
	assert.Nil(t, b.Requests, "the embedded backend makes no API requests")

	_, err = openBackend("redis", env(nil))
	assert.ErrorContains(t, err, "want memory, local, cloudflare or worker")

	// Real Cloudflare needs its variables; the error names the missing one.
	_, err = openBackend("cloudflare", env(nil))
	assert.ErrorContains(t, err, "CLOUDFLARE_API_TOKEN")

	// A local server has defaults for everything kvkit serve prints.
	b, err = openBackend("local", env(nil))
	require.NoError(t, err)
	assert.NotNil(t, b.Requests)
	b, err = openBackend("local", env(map[string]string{"KVKIT_NAMESPACE_ID": "not-hex"}))
	assert.ErrorContains(t, err, "KVKIT_NAMESPACE_ID")

	// kvkit's Worker: its URL and secret from the environment.
	_, err = openBackend("worker", env(map[string]string{"KVKIT_WORKER_SECRET": "0123456789abcdef0123"}))
	assert.ErrorContains(t, err, "KVKIT_WORKER_URL")
	b, err = openBackend("worker", env(map[string]string{"KVKIT_WORKER_URL": "https://kvkit-kv.example.workers.dev", "KVKIT_WORKER_SECRET": "0123456789abcdef0123"}))
	require.NoError(t, err)
	assert.Equal(t, "worker", b.Name)
	assert.Nil(t, b.Requests, "the Worker spends no API requests")
}
