package redis_test

import (
	"context"
	"fmt"
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
		s, err := redis.Open(context.Background(), srv.URL(0), fmt.Sprintf("t%d:", n.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestOpenRefusesBadURL(t *testing.T) {
	if _, err := redis.Open(context.Background(), "redis://127.0.0.1:1/0", "x:"); err == nil {
		t.Fatal("open of a closed port succeeded")
	}
	if _, err := redis.Open(context.Background(), "redis://h:1/notadb", "x:"); err == nil {
		t.Fatal("open of a bad db succeeded")
	}
}
