package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProducersOneClientPerTopics: with one topic per producer client, two events' topics are
// written by two clients, each topic always by the same one, and every accepted event (single
// requests and a batch spanning both topics) is in its topic exactly once, read back from kfake.
func TestProducersOneClientPerTopics(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played, completed}, cfg: func(c *Config) { c.TopicsPerProducer = 1 }})
	if got := e.metric("evctl_gateway_kafka_producers"); got != "1" {
		t.Fatalf("%s producers at start, want 1", got)
	}
	var batch strings.Builder
	for i := range 3 {
		e.mustAccept(played, []byte(playedJSON(fmt.Sprintf("single-%d", i))))
		e.mustAccept(completed, completedJSON())
		fmt.Fprintf(&batch, `{"event":%q,"data":%s}`+"\n", played, playedJSON(fmt.Sprintf("batch-%d", i)))
		fmt.Fprintf(&batch, `{"event":%q,"data":%s}`+"\n", completed, completedJSON())
	}
	st, body, _ := e.post("/v1/batch", "tok-growth", "application/x-ndjson", []byte(batch.String()))
	if st != http.StatusOK || body["accepted"] != float64(6) {
		t.Fatalf("batch: %d %v", st, body)
	}
	if got := e.metric("evctl_gateway_kafka_producers"); got != "2" {
		t.Errorf("%s producers for 2 topics at 1 topic each, want 2", got)
	}
	a, _ := e.gw.kafka.byTopic.Load(e.topics[played])
	b, _ := e.gw.kafka.byTopic.Load(e.topics[completed])
	if a == nil || b == nil || a == b {
		t.Errorf("topics' clients %p and %p: want two different ones", a, b)
	}
	seen := map[string]int{}
	for _, r := range e.consume(e.topics[played]) {
		m := e.decode(played, r.Value)
		seen[m.Get(m.Descriptor().Fields().ByName("event_id")).String()]++
	}
	for i := range 3 {
		for _, id := range []string{fmt.Sprintf("single-%d", i), fmt.Sprintf("batch-%d", i)} {
			if seen[id] != 1 {
				t.Errorf("%s is in %s %d times, want once", id, e.topics[played], seen[id])
			}
		}
	}
	if got := len(e.consume(e.topics[completed])); got != 6 {
		t.Errorf("%d records in %s, want 6", got, e.topics[completed])
	}
}

// TestMaxBufferedAcrossProducers: Config.MaxBuffered bounds the records waiting for Kafka
// across every producer client, not per client: with Kafka down and one record waiting on one
// client, a record for a topic of another client is refused at once as a full buffer (503),
// instead of waiting for its delivery timeout.
func TestMaxBufferedAcrossProducers(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played, completed}, cfg: func(c *Config) {
		c.TopicsPerProducer = 1
		c.MaxBuffered = 1
		c.DeliveryTimeout = 5 * time.Second
	}})
	e.kafka.Close()
	first := make(chan int, 1)
	go func() {
		st, _, _ := e.post("/v1/events/"+played, "tok-growth", "application/json", []byte(playedJSON("waits")))
		first <- st
	}()
	waitFor(t, "the first record buffered", func() bool { return e.gw.buffered.Load() == 1 })
	st, body, h := e.post("/v1/events/"+completed, "tok-growth", "application/json", completedJSON())
	if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(fmt.Sprint(body), kgo.ErrMaxBuffered.Error()) {
		t.Fatalf("second record with the buffer full: %d %v, want a 503 saying %q", st, body, kgo.ErrMaxBuffered)
	}
	if st := <-first; st != http.StatusServiceUnavailable {
		t.Fatalf("first record with kafka down: %d, want 503", st)
	}
	if n := e.gw.buffered.Load(); n != 0 {
		t.Errorf("%d records still counted as buffered after both answers", n)
	}
}

// TestProfilesOnlyWhereAsked: the runtime's profiles are served on the listener ServeDebug
// opened, never on the gateway's own port.
func TestProfilesOnlyWhereAsked(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played}, debug: true})
	resp, err := http.Get(e.url + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/debug/pprof/ on the gateway's port: %d, want 404", resp.StatusCode)
	}
	dbg := "http://" + e.gw.debug.Addr().String()
	if got := getText(t, dbg+"/debug/pprof/goroutine?debug=1"); !strings.Contains(got, "goroutine profile:") {
		t.Errorf("goroutine profile on the debug port: %.200q", got)
	}
	resp, err = http.Get(dbg + "/v1/counters/c/k")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a gateway route on the debug port: %d, want 404", resp.StatusCode)
	}
}

// metric returns the value of an unlabelled metric on /metrics, as text ("" when absent).
func (e *env) metric(name string) string {
	e.t.Helper()
	for _, line := range strings.Split(getText(e.t, e.url+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}
