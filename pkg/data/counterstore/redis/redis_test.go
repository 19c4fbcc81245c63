package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/counterstore/redis"
	"github.com/evctl/evctl/pkg/data/counterstore/redis/redistest"
	"github.com/evctl/evctl/pkg/data/counterstore/storetest"
)

// TestConformance runs the store suite against a real redis-server; each subtest gets its own
// key prefix, so they share one server.
func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) counterstore.Store {
		s, err := redis.Open(context.Background(), srv.URL(0), fmt.Sprintf("t%d:", n.Add(1)), "")
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestOpenRefusesBadURL(t *testing.T) {
	if _, err := redis.Open(context.Background(), "redis://127.0.0.1:1/0", "x:", ""); err == nil {
		t.Fatal("open of a closed port succeeded")
	}
	if _, err := redis.Open(context.Background(), "redis://h:1/notadb", "x:", ""); err == nil {
		t.Fatal("open of a bad db succeeded")
	}
}

// TestPassword: a server that requires a password takes the one given (from
// counters.password_env), refuses without it, and no error shows a password, even one written
// into the URL by mistake.
func TestPassword(t *testing.T) {
	const pw = "s3cr3t-pw"
	srv := redistest.Start(t, "--requirepass", pw)
	ctx := context.Background()
	s, err := redis.Open(ctx, srv.URL(0), "p:", pw)
	if err != nil {
		t.Fatalf("with the password: %v", err)
	}
	s.Close()
	_, err = redis.Open(ctx, srv.URL(0), "p:", "")
	if err == nil {
		t.Fatal("opened without the password")
	}
	_, err2 := redis.Open(ctx, "redis://:"+pw+"@"+srv.Addr+"/notadb", "p:", "")
	for _, e := range []error{err, err2} {
		if e == nil || strings.Contains(e.Error(), pw) {
			t.Errorf("error %v shows the password or is missing", e)
		}
	}
}

// TestCoalescedReads: many concurrent one-key reads (the gateway's pattern, coalesced into
// pipelines by the store) each get their own key's value from a real redis-server.
func TestCoalescedReads(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	s, err := redis.Open(ctx, srv.URL(0), "co:", "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const keys = 2000
	incs := make([]counterstore.Increment, keys)
	for i := range incs {
		incs[i] = counterstore.Increment{Counter: "c", Key: fmt.Sprintf("k%d", i), Delta: int64(i * 3)}
	}
	if _, err := s.Apply(ctx, counterstore.Batch{Scope: "s", Prev: -1, Offset: 1, Increments: incs}); err != nil {
		t.Fatal(err)
	}
	var wrong atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 64; g++ {
		wg.Go(func() {
			for i := g; i < keys; i += 64 {
				keys := []string{fmt.Sprintf("k%d", i), "unseen"}
				v, err := s.Get(ctx, "c", keys)
				if err != nil || len(v) != 2 || v[0] != int64(i*3) || v[1] != 0 {
					t.Errorf("get k%d: %v %v", i, v, err)
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if wrong.Load() > 0 {
		t.Fatalf("%d reads answered wrong", wrong.Load())
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(cctx, "c", []string{"k1"}); err == nil {
		t.Fatal("a read with a cancelled context succeeded")
	}
	s.Close()
	if _, err := s.Get(ctx, "c", []string{"k1"}); err == nil {
		t.Fatal("a read after Close succeeded")
	}
}
