package kv_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
)

type User struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// Quick start: a typed store over the embedded backend.
func Example() {
	ctx := context.Background()
	users, err := kv.New[User](memory.New(memory.Options{}), kv.Options{Prefix: "user:"})
	if err != nil {
		log.Fatal(err)
	}
	if err := users.Put(ctx, "42", User{Name: "Ada", Role: "admin"}); err != nil {
		log.Fatal(err)
	}
	u, found, err := users.Get(ctx, "42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(found, u.Name, u.Role)
	// Output: true Ada admin
}

// Every option of a Store.
func ExampleNew() {
	ns := memory.New(memory.Options{}) // or cloudflare.FromEnv(...)
	sessions, err := kv.New[map[string]string](ns, kv.Options{
		Prefix:      "session:",       // prepended to every key, stripped when listing
		DefaultTTL:  24 * time.Hour,   // writes expire after a day unless told otherwise
		CacheTTL:    30 * time.Second, // read cache: the Go analogue of cacheTtl
		CacheSize:   10_000,           // read cache entries
		Codec:       kv.JSON,          // or kv.Text, kv.Bytes, or your own kv.Codec
		Concurrency: 8,                // parallel calls for GetMany & co. without bulk endpoints
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sessions.Prefix())
	// Output: session:
}

func ExampleStore_Put() {
	ctx := context.Background()
	s := kv.Must(kv.New[string](memory.New(memory.Options{}), kv.Options{DefaultTTL: time.Hour}))

	_ = s.Put(ctx, "a", "uses the default TTL (1h)")
	_ = s.Put(ctx, "b", "expires in 5 minutes", kv.WithTTL(5*time.Minute))
	_ = s.Put(ctx, "c", "expires at a time", kv.WithExpiration(time.Now().Add(48*time.Hour)))
	_ = s.Put(ctx, "d", "never expires", kv.WithoutExpiration())
	_ = s.Put(ctx, "e", "with metadata", kv.WithMetadata(map[string]any{"owner": "ada", "rev": 3}))

	err := s.Put(ctx, "f", "too short", kv.WithTTL(10*time.Second))
	fmt.Println(errors.Is(err, kv.ErrInvalidTTL))
	// Output: true
}

func ExampleStore_GetWithMetadata() {
	ctx := context.Background()
	s := kv.Must(kv.New[string](memory.New(memory.Options{}), kv.Options{}))
	type Meta struct {
		Owner string `json:"owner"`
	}
	_ = s.Put(ctx, "doc", "body", kv.WithMetadata(Meta{Owner: "ada"}))

	var meta Meta
	v, found, err := s.GetWithMetadata(ctx, "doc", &meta)
	fmt.Println(v, found, err, meta.Owner)
	// Output: body true <nil> ada
}

func ExampleStore_Delete() {
	ctx := context.Background()
	s := kv.Must(kv.New[int](memory.New(memory.Options{}), kv.Options{}))
	_ = s.Put(ctx, "n", 1)
	_ = s.Delete(ctx, "n")
	_ = s.Delete(ctx, "never-existed") // not an error
	has, _ := s.Has(ctx, "n")
	fmt.Println(has)
	// Output: false
}

func ExampleStore_GetMany() {
	ctx := context.Background()
	s := kv.Must(kv.New[int](memory.New(memory.Options{}), kv.Options{Prefix: "score:", DefaultTTL: time.Hour}))
	err := s.PutMany(ctx, []kv.PutEntry[int]{
		{Key: "ada", Value: 10},
		{Key: "bob", Value: 7, TTL: 10 * time.Minute}, // per-entry options
		{Key: "cy", Value: 3, Metadata: map[string]string{"team": "red"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	scores, _ := s.GetMany(ctx, []string{"ada", "bob", "zed"}) // missing keys are left out
	fmt.Println(len(scores), scores["ada"], scores["bob"])
	_ = s.DeleteMany(ctx, []string{"ada", "bob"})
	// Output: 2 10 7
}

func ExampleStore_Keys() {
	ctx := context.Background()
	s := kv.Must(kv.New[string](memory.New(memory.Options{}), kv.Options{Prefix: "user:"}))
	for _, k := range []string{"active:1", "active:2", "idle:3"} {
		_ = s.Put(ctx, k, "x")
	}
	// Pages are fetched lazily; names come without the Store's prefix.
	for key, err := range s.Keys(ctx, kv.ListOptions{Prefix: "active:"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(key.Name)
	}
	all, _ := s.ListAll(ctx, kv.ListOptions{})
	fmt.Println(len(all))
	// Output:
	// active:1
	// active:2
	// 3
}

func ExampleStore_ListPage() {
	ctx := context.Background()
	s := kv.Must(kv.New[int](memory.New(memory.Options{}), kv.Options{}))
	for i := range 5 {
		_ = s.Put(ctx, fmt.Sprint("k", i), i)
	}
	// Resumable paging: keep the cursor (in a URL, a job's state, ...).
	page, _ := s.ListPage(ctx, kv.ListOptions{Limit: 2})
	fmt.Println(len(page.Keys), page.Complete)
	page, _ = s.ListPage(ctx, kv.ListOptions{Limit: 2, Cursor: page.Cursor})
	fmt.Println(page.Keys[0].Name)
	// Output:
	// 2 false
	// k2
}

func ExampleValidateKey() {
	fmt.Println(kv.ValidateKey("user:42") == nil)
	fmt.Println(errors.Is(kv.ValidateKey(".."), kv.ErrInvalidKey))
	full := kv.PrefixKey("user:", "42")
	k, ok := kv.StripPrefix("user:", full)
	fmt.Println(full, k, ok)
	fmt.Println(errors.Is(kv.ValidateTTL(30*time.Second), kv.ErrInvalidTTL))
	// Output:
	// true
	// true
	// user:42 42 true
	// true
}

func ExampleError() {
	ctx := context.Background()
	s := kv.Must(kv.New[string](memory.New(memory.Options{}), kv.Options{Prefix: "p:"}))
	err := s.Put(ctx, "k", "v", kv.WithTTL(time.Second))

	var kerr *kv.Error
	if errors.As(err, &kerr) {
		fmt.Println(kerr.Op, kerr.Key)
	}
	fmt.Println(errors.Is(err, kv.ErrInvalidTTL))
	fmt.Println(err)
	// Output:
	// put p:k
	// true
	// kv: put "p:k": invalid TTL: TTL 1s must be at least 60s
}

func ExampleStore_Namespace() {
	ctx := context.Background()
	s := kv.Must(kv.New[string](memory.New(memory.Options{}), kv.Options{Prefix: "p:"}))
	_ = s.Put(ctx, "k", "v")
	// Raw access: the byte-level binding, full keys, no codec.
	item, found, _ := s.Namespace().Get(ctx, "p:k", kv.GetOptions{})
	fmt.Println(found, string(item.Value))
	// Output: true "v"
}

func ExampleStore_PutStream() {
	ctx := context.Background()
	blobs := kv.Must(kv.New[[]byte](memory.New(memory.Options{}), kv.Options{Prefix: "blob:", Codec: kv.Bytes}))
	// Large values go in and out as streams, without the codec.
	_ = blobs.PutStream(ctx, "report", bytesReader("a large body"), kv.WithTTL(time.Hour))
	r, found, _ := blobs.GetStream(ctx, "report")
	if found {
		defer r.Close()
		b := make([]byte, 7)
		_, _ = r.Read(b)
		fmt.Println(string(b))
	}
	// Output: a large
}
