package redis

import (
	"context"
	"fmt"
	"testing"

	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/counterstore/redis/redistest"
)

// BenchmarkGetOneKey: one-key reads from 64 goroutines per CPU (the gateway route's pattern)
// against a real redis-server, coalesced into pipelines (what Get does) against a plain HMGET per
// read (the baseline, in the same run). Compare ns/op.
func BenchmarkGetOneKey(b *testing.B) {
	srv := redistest.Start(b)
	ctx := context.Background()
	s, err := Open(ctx, srv.URL(0), "bench:", "")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const keys = 10_000
	incs := make([]counterstore.Increment, keys)
	for i := range incs {
		incs[i] = counterstore.Increment{Counter: "c", Key: fmt.Sprintf("k%d", i), Delta: 1}
	}
	if _, err := s.Apply(ctx, counterstore.Batch{Scope: "s", Prev: -1, Offset: 1, Increments: incs}); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		get  func(key string) error
	}{
		{"coalesced", func(k string) error { _, err := s.coalescedGet(ctx, "c", []string{k}); return err }},
		{"hmget", func(k string) error { return s.rdb.HMGet(ctx, s.counterKey("c"), k).Err() }},
	} {
		b.Run(mode.name, func(b *testing.B) {
			b.SetParallelism(64)
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if err := mode.get(fmt.Sprintf("k%d", i%keys)); err != nil {
						b.Error(err)
						return
					}
					i += 7
				}
			})
		})
	}
}
