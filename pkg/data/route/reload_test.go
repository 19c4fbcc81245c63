package route_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/data/route"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// collector is a loopback HTTP receiver that accepts everything and keeps the bodies by path.
type collector struct {
	mu     sync.Mutex
	bodies map[string][]map[string]any
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bodies[r.URL.Path] = append(c.bodies[r.URL.Path], body)
	w.WriteHeader(http.StatusNoContent)
}

func (c *collector) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bodies[path])
}

func (c *collector) get(path string) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.bodies[path]...)
}

const reloadConsumer = `name: %s
owner: {team: growth}
events: [identity/step_completed]
where: {step: KYC}
transform: |
  {"v": %d, "user": {{json .user}}, "n": {{json .n}}}
deliver:
  http: {url_env: %s, timeout: 2s}
retry: {max_attempts: 3, backoff: 10ms, max_backoff: 100ms}
`

// publish writes consumer definitions to the fixture's descriptor store as apply does.
func (f *fixture) publish(t *testing.T, yamls ...string) {
	t.Helper()
	var defs []*descstore.ConsumerDef
	for _, y := range yamls {
		c := parseConsumer(t, y)
		defs = append(defs, c.Definition(consumer.Placement{Topics: map[string]string{eventID: topic},
			Group: route.Group(env, c.Name), DLQ: route.DLQTopic(env, c.Name)}))
	}
	if err := descstore.PublishConsumers(t.Context(), f.store, defs, nil); err != nil {
		t.Fatal(err)
	}
}

// TestHotReload: evctl route runs what apply published (not a repository): a template changed
// and republished takes effect in the running worker within a poll, without a restart (the same
// handler), and a newly published consumer gets its own worker.
func TestHotReload(t *testing.T) {
	f := newFixture(t, 3, route.DLQTopic(env, "crm"), route.DLQTopic(env, "ops"))
	rcv := &collector{bodies: map[string][]map[string]any{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	urls := map[string]string{"CRM_URL": srv.URL + "/crm", "OPS_URL": srv.URL + "/ops"}
	f.publish(t, fmt.Sprintf(reloadConsumer, "crm", 1, "CRM_URL"))
	run := f.start(t, route.RunConfig{Getenv: func(k string) string { return urls[k] }, Poll: 50 * time.Millisecond})

	batch := func(first int) {
		var evs []ev
		for n := 1; n <= 5; n++ {
			evs = append(evs, ev{"u1", "KYC", first + n}, ev{"u2", "PROFILE", first + n})
		}
		f.produce(t, first, evs)
	}
	batch(0)
	eventually(t, "five v1 deliveries", func() bool { return rcv.count("/crm") >= 5 })
	h := run.handler()

	f.publish(t, fmt.Sprintf(strings.Replace(reloadConsumer, "where: {step: KYC}", "where: {step: PROFILE}", 1), "crm", 2, "CRM_URL"))
	eventually(t, "the running handler to load v2", func() bool { return strings.Contains(h.Consumer().Transform, `"v": 2`) })
	batch(100)
	eventually(t, "five v2 deliveries", func() bool { return rcv.count("/crm") >= 10 })

	got := rcv.get("/crm")
	for i, b := range got {
		v, user := b["v"], b["user"]
		switch {
		case i < 5 && (v != float64(1) || user != "u1"):
			t.Errorf("delivery %d before the reload: %v", i, b)
		case i >= 5 && (v != float64(2) || user != "u2"):
			t.Errorf("delivery %d after the reload: %v (want the new template and where)", i, b)
		}
	}
	if n := len(run.all()); n != 1 {
		t.Errorf("%d handlers started, want 1 (reloaded in place, not restarted)", n)
	}

	// A consumer published later starts in the running process and reads from the start.
	f.publish(t, fmt.Sprintf(reloadConsumer, "ops", 3, "OPS_URL"))
	eventually(t, "ops deliveries", func() bool { return rcv.count("/ops") >= 5 })
	if err := run.wait(); err != nil {
		t.Fatal(err)
	}
}

// TestUnrunnableConsumerLeavesOthersRunning: of two published consumers, one cannot run on this
// machine (its url_env is unset); evctl route logs it and delivers the other's events instead
// of refusing to start.
func TestUnrunnableConsumerLeavesOthersRunning(t *testing.T) {
	f := newFixture(t, 3, route.DLQTopic(env, "crm"), route.DLQTopic(env, "ops"))
	rcv := &collector{bodies: map[string][]map[string]any{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	urls := map[string]string{"CRM_URL": srv.URL + "/crm"} // OPS_URL is not set
	f.publish(t, fmt.Sprintf(reloadConsumer, "crm", 1, "CRM_URL"), fmt.Sprintf(reloadConsumer, "ops", 1, "OPS_URL"))
	run := f.start(t, route.RunConfig{Getenv: func(k string) string { return urls[k] }, Poll: 50 * time.Millisecond})
	var evs []ev
	for n := 1; n <= 5; n++ {
		evs = append(evs, ev{"u1", "KYC", n})
	}
	f.produce(t, 0, evs)
	eventually(t, "five crm deliveries", func() bool { return rcv.count("/crm") >= 5 })
	hs := run.all()
	if len(hs) != 1 || hs[0].Consumer().Name != "crm" {
		t.Errorf("%d handlers running, want crm's alone", len(hs))
	}
	if err := run.wait(); err != nil {
		t.Fatal(err)
	}
}
