package route_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/data/route"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// readCounter is the fixture's file:// store with its reads of each key tallied: the store is
// real, only the reads are counted.
type readCounter struct {
	blob.Store
	mu   sync.Mutex
	gets map[string]int
}

func (c *readCounter) Get(ctx context.Context, key string) ([]byte, blob.Gen, error) {
	c.mu.Lock()
	c.gets[key]++
	c.mu.Unlock()
	return c.Store.Get(ctx, key)
}

func (c *readCounter) reads(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[key]
}

// TestConsumersShareOneRegistry: two consumers of the same event in one evctl route process
// decode its records with one registry: the event's set is read from the store once, not once
// per consumer.
func TestConsumersShareOneRegistry(t *testing.T) {
	f := newFixture(t, 3, route.DLQTopic(env, "crm"), route.DLQTopic(env, "ops"))
	rcv := &collector{bodies: map[string][]map[string]any{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	urls := map[string]string{"CRM_URL": srv.URL + "/crm", "OPS_URL": srv.URL + "/ops"}
	f.publish(t, fmt.Sprintf(reloadConsumer, "crm", 1, "CRM_URL"), fmt.Sprintf(reloadConsumer, "ops", 1, "OPS_URL"))
	rc := &readCounter{Store: f.store, gets: map[string]int{}}
	f.store = rc
	run := f.start(t, route.RunConfig{Getenv: func(k string) string { return urls[k] }, Poll: 50 * time.Millisecond})
	var evs []ev
	for n := 1; n <= 5; n++ {
		evs = append(evs, ev{"u1", "KYC", n})
	}
	f.produce(t, 0, evs)
	eventually(t, "both consumers' deliveries", func() bool { return rcv.count("/crm") >= 5 && rcv.count("/ops") >= 5 })
	if n := len(run.all()); n != 2 {
		t.Fatalf("%d consumers running, want 2", n)
	}
	if n := rc.reads(descstore.SetKey(f.sha)); n != 1 {
		t.Errorf("the event's set was read %d times by two consumers, want once", n)
	}
	if err := run.wait(); err != nil {
		t.Fatal(err)
	}
}
