package gateway

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
)

func TestKafkaDown503(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played}})
	if st, _, _ := e.post("/v1/events/"+played, "tok-growth", "application/json", []byte(playedJSON("up"))); st != 202 {
		t.Fatalf("kafka up: %d", st)
	}
	e.kafka.Close()
	st, body, h := e.post("/v1/events/"+played, "tok-growth", "application/json", []byte(playedJSON("down")))
	if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("kafka down: %d %v %v", st, body, h)
	}
}

// TestDurability publishes from several clients while the Kafka listener stops and restarts:
// every event answered 2xx is in the topic exactly once (by event_id), and every other one got
// an error.
func TestDurability(t *testing.T) {
	cluster := kafkatest.Start(t, kfake.DataDir(t.TempDir()))
	e := startEnv(t, envOpts{kafka: cluster, publish: []string{played}})
	const clients, perClient = 4, 150
	var (
		mu       sync.Mutex
		accepted = map[string]bool{}
		failed   atomic.Int64
		ok       atomic.Int64
		down     = make(chan struct{})
		wg       sync.WaitGroup
	)
	var restarted sync.WaitGroup
	restarted.Add(1)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				id := fmt.Sprintf("c%d-%d", c, i)
				st, _, _ := e.post("/v1/events/"+played, "tok-growth", "application/json", []byte(playedJSON(id)))
				switch st {
				case http.StatusAccepted:
					mu.Lock()
					accepted[id] = true
					mu.Unlock()
					ok.Add(1)
				case http.StatusServiceUnavailable:
					failed.Add(1)
				default:
					t.Errorf("%s: status %d", id, st)
				}
				if c == 0 && i == perClient/3 {
					close(down)
				}
			}
		}()
	}
	<-down
	cluster.Close()
	waitFor(t, "a 503 while kafka is down", func() bool { return failed.Load() > 0 })
	cluster.Restart(t)
	wg.Wait()
	t.Logf("accepted %d, refused %d", ok.Load(), failed.Load())
	if ok.Load() == 0 || failed.Load() == 0 {
		t.Fatalf("the test did not exercise both outcomes: accepted %d, refused %d", ok.Load(), failed.Load())
	}
	seen := map[string]int{}
	for _, r := range e.consume(e.topics[played]) {
		m := e.decode(played, r.Value)
		seen[m.Get(m.Descriptor().Fields().ByName("event_id")).String()]++
	}
	for id := range accepted {
		if seen[id] != 1 {
			t.Errorf("event %s answered 202 is in the topic %d times", id, seen[id])
		}
	}
}
