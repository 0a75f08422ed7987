//go:build e2e

package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	cfkv "github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/cloudflare"
	"github.com/kvkit/kvkit/kv/kvserver"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/worker"
	"github.com/kvkit/kvkit/kv/worker/workertest"
)

// The mix: 1,000 operations of a read-mostly service, the same sequence for
// both paths.
const (
	mixOps      = 1000
	mixKeys     = 200
	mixBulkKeys = 20
)

type mixOp struct {
	kind string // "get", "get-many", "put"
	keys []string
	val  string
}

func workerMix() []mixOp {
	r := rand.New(rand.NewPCG(14, 1))
	key := func() string { return "k" + strconv.Itoa(r.IntN(mixKeys)) }
	ops := make([]mixOp, mixOps)
	for i := range ops {
		switch p := r.IntN(100); {
		case p < 70:
			ops[i] = mixOp{kind: "get", keys: []string{key()}}
		case p < 80:
			keys := make([]string, mixBulkKeys)
			for j := range keys {
				keys[j] = key()
			}
			ops[i] = mixOp{kind: "get-many", keys: keys}
		default:
			ops[i] = mixOp{kind: "put", keys: []string{key()}, val: "v" + strconv.Itoa(i)}
		}
	}
	return ops
}

// runMix runs ops through s and checks every read against want (the values
// the mix has written so far), so both paths are seen to do the same work.
// It adds the time of each kind of operation to took.
func runMix(ctx context.Context, s *kv.Store[string], ops []mixOp, want map[string]string, took map[string]time.Duration) error {
	for _, op := range ops {
		t0 := time.Now()
		switch op.kind {
		case "get":
			v, found, err := s.Get(ctx, op.keys[0])
			if err != nil {
				return err
			}
			if !found || v != want[op.keys[0]] {
				return fmt.Errorf("get %s = %q, %v; want %q", op.keys[0], v, found, want[op.keys[0]])
			}
		case "get-many":
			got, err := s.GetMany(ctx, op.keys)
			if err != nil {
				return err
			}
			for _, k := range op.keys {
				if got[k] != want[k] {
					return fmt.Errorf("get-many %s = %q; want %q", k, got[k], want[k])
				}
			}
		case "put":
			if err := s.Put(ctx, op.keys[0], op.val); err != nil {
				return err
			}
			want[op.keys[0]] = op.val
		}
		took[op.kind] += time.Since(t0)
	}
	return nil
}

// BenchmarkWorkerVsREST runs the same 1,000-operation mix (70% gets, 10%
// bulk gets of 20 keys, 20% puts, over 200 keys) through kv/cloudflare →
// the local REST API server (kv/kvserver on httptest, what kvkit serve
// runs) and through kv/worker → kvkit's Worker in workerd (Miniflare),
// interleaved so both see the same machine load. It reports, per 1,000
// operations, the HTTP requests each path made, the Cloudflare API requests
// (counted by the API server: the account's budget is 1,200 per 5
// minutes), the Worker's KV operations, and the worker path's time over
// the REST path's as "x-rest". Needs Node and e2e/node_modules:
//
//	cd bench && go test -tags e2e -run '^$' -bench WorkerVsREST -benchtime 3x
func BenchmarkWorkerVsREST(b *testing.B) {
	ctx := context.Background()
	api := kvtest.NewServer(b, kvtest.ServerOptions{})
	svc := cfkv.NewKVService(option.WithBaseURL(api.BaseURL), option.WithAPIToken(api.Token), option.WithHTTPClient(api.Client()))
	rest, err := cloudflare.New(svc, api.AccountID, api.NamespaceID, cloudflare.Options{})
	if err != nil {
		b.Fatal(err)
	}
	inst := workertest.Start(b, workertest.Options{})
	wk := inst.Namespace(b, worker.Options{})

	// The same Store on both, the edge cache TTL included (the REST path
	// has no edge cache and ignores it; no in-process cache on either).
	opts := kv.Options{Prefix: "bench/", Codec: kv.Text, EdgeCacheTTL: time.Minute}
	restStore := kv.Must(kv.New[string](rest, opts))
	workerStore := kv.Must(kv.New[string](wk, opts))
	seed := make([]kv.PutEntry[string], mixKeys)
	want := map[string]map[string]string{"rest": {}, "worker": {}}
	for i := range seed {
		k := "k" + strconv.Itoa(i)
		seed[i] = kv.PutEntry[string]{Key: k, Value: "seed" + strconv.Itoa(i)}
		want["rest"][k], want["worker"][k] = seed[i].Value, seed[i].Value
	}
	for _, s := range []*kv.Store[string]{restStore, workerStore} {
		if err := s.PutMany(ctx, seed); err != nil {
			b.Fatal(err)
		}
	}
	ops := workerMix()
	rest.ResetRequests()
	wk.ResetRequests()
	api.ResetHits()

	var restTime, workerTime time.Duration
	var restAPI, workerAPI int
	kinds := map[string]map[string]time.Duration{"rest": {}, "worker": {}}
	run := func(name string, s *kv.Store[string], took *time.Duration, apiHits *int) {
		before := api.Hits(kvserver.RouteAny)
		t0 := time.Now()
		if err := runMix(ctx, s, ops, want[name], kinds[name]); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		*took += time.Since(t0)
		*apiHits += api.Hits(kvserver.RouteAny) - before
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Alternate which path goes first.
		if i%2 == 0 {
			run("rest", restStore, &restTime, &restAPI)
			run("worker", workerStore, &workerTime, &workerAPI)
		} else {
			run("worker", workerStore, &workerTime, &workerAPI)
			run("rest", restStore, &restTime, &restAPI)
		}
	}
	b.StopTimer()
	mixes := float64(b.N)
	rr, wr := rest.Requests(), wk.Requests()
	b.ReportMetric(float64(restTime)/mixes/mixOps, "rest-ns/op")
	b.ReportMetric(float64(workerTime)/mixes/mixOps, "worker-ns/op")
	b.ReportMetric(float64(workerTime)/float64(restTime), "x-rest")
	b.ReportMetric(float64(rr.Total())/mixes, "rest-http-req/1000ops")
	b.ReportMetric(float64(restAPI)/mixes, "rest-api-req/1000ops")
	b.ReportMetric(float64(wr.Total())/mixes, "worker-http-req/1000ops")
	b.ReportMetric(float64(workerAPI)/mixes, "worker-api-req/1000ops")
	b.ReportMetric(float64(wr.KVOperations)/mixes, "worker-kv-ops/1000ops")
	b.ReportMetric(float64(wr.Retries+wr.Replays+rr.Retries)/mixes, "retries/1000ops")
	count := map[string]int{}
	for _, op := range ops {
		count[op.kind]++
	}
	for _, path := range []string{"rest", "worker"} {
		for _, kind := range []string{"get", "get-many", "put"} {
			b.ReportMetric(float64(kinds[path][kind])/mixes/float64(count[kind]), path+"-"+kind+"-ns")
		}
	}
	if workerAPI != 0 {
		b.Errorf("the worker path made %d Cloudflare API requests", workerAPI)
	}
}
