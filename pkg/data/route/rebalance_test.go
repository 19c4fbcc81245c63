package route_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/data/route"
)

// slowReceiver answers 503 to user "slow" while down is set, and accepts everything else,
// recording each accepted delivery's user, n and Idempotency-Key.
type slowReceiver struct {
	mu       sync.Mutex
	delay    time.Duration // before answering
	down     bool
	slowSeen int
	accepted []delivery
}

type delivery struct {
	user, key string
	n         int
}

func (r *slowReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var body struct {
		User string `json:"user"`
		N    int    `json:"n"`
	}
	_ = json.Unmarshal(b, &body)
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	if body.User == "slow" {
		r.slowSeen++
		if r.down {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
	}
	r.accepted = append(r.accepted, delivery{body.User, req.Header.Get("Idempotency-Key"), body.N})
	w.WriteHeader(http.StatusOK)
}

// checkDelivered fails unless every (user, n) in want arrived, and each user's first
// deliveries came in increasing n; a repeat (at least once) must carry an already seen key.
func (r *slowReceiver) checkDelivered(t *testing.T, want map[string]int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	last := map[string]int{}
	dups := 0
	for _, d := range r.accepted {
		if seen[d.key] {
			dups++
			continue
		}
		seen[d.key] = true
		if d.n != last[d.user]+1 {
			t.Errorf("user %s: n %d delivered after %d (out of order or missing)", d.user, d.n, last[d.user])
		}
		last[d.user] = d.n
	}
	for u, n := range want {
		if last[u] != n {
			t.Errorf("user %s: delivered up to %d, want %d", u, last[u], n)
		}
	}
	t.Logf("%d deliveries, %d repeats (dropped by Idempotency-Key)", len(r.accepted), dups)
}

const slowConsumer = `name: crm
owner: {team: growth}
events: [identity/step_completed]
transform: '{"user": {{json .user}}, "n": {{json .n}}}'
deliver:
  http: {url_env: CRM_URL, timeout: 2s}
retry: {max_attempts: 8, backoff: 20m, max_backoff: 20m}
`

// TestRevokeWhileInBackoff: an event waits in a 10-20 minute backoff (its receiver answered
// 503). A second route worker joins the group and a rebalance moves partitions to it at once;
// then the first stops gracefully, also at once. The event in backoff is not lost: its offset
// was never committed, so the partition's new owner delivers it, in order behind nothing and
// ahead of the next event of its key. Every other event is delivered in order per key; the two
// workers shared the partitions. (Were retries still inside Flush, the rebalance and the stop
// would wait out the backoff and the test's hang guard would end it.)
func TestRevokeWhileInBackoff(t *testing.T) {
	f := newFixture(t, 4, route.DLQTopic(env, "crm"))
	rcv := &slowReceiver{down: true}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	c := parseConsumer(t, slowConsumer)
	rc := route.RunConfig{Routes: []route.Route{{Consumer: c, Topics: map[string]string{eventID: topic}, URL: srv.URL}}}
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"}
	produce := func(first, from, to int, withSlow bool) {
		var evs []ev
		for n := from; n <= to; n++ {
			for _, u := range users {
				evs = append(evs, ev{u, "KYC", n})
			}
		}
		if withSlow {
			evs = append(evs, ev{"slow", "KYC", 1}, ev{"slow", "KYC", 2})
		}
		f.produce(t, first, evs)
	}

	a := f.start(t, rc)
	produce(0, 1, 3, true)
	eventually(t, "slow in backoff and the rest delivered", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return rcv.slowSeen >= 1 && len(rcv.accepted) >= 3*len(users)
	})
	rcv.mu.Lock()
	rcv.down = false // the receiver recovers; the first worker still waits out its backoff
	rcv.mu.Unlock()

	b := f.start(t, rc)
	// Keep producing rounds (one event per user) until the second worker delivered some: it
	// only gets records produced after its partitions moved to it.
	last := 3
	eventually(t, "the second worker to deliver from the partitions it was given", func() bool {
		if h := b.handler(); h != nil && h.Stats().Delivered > 0 && last >= 6 {
			return true
		}
		last++
		produce(1000*last, last, last, false)
		return false
	})
	eventually(t, "every round delivered", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		n := 0
		for _, d := range rcv.accepted {
			if d.user != "slow" {
				n++
			}
		}
		return n >= last*len(users)
	})
	if err := a.wait(); err != nil { // graceful stop with (maybe) an event in backoff
		t.Fatal(err)
	}
	eventually(t, "slow delivered by the partition's new owner", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		n := 0
		for _, d := range rcv.accepted {
			if d.user == "slow" {
				n++
			}
		}
		return n >= 2
	})
	want := map[string]int{"slow": 2}
	for _, u := range users {
		want[u] = last
	}
	rcv.checkDelivered(t, want)
	if st := a.handler().Stats(); st.Retries == 0 && b.handler().Stats().Retries == 0 {
		t.Errorf("no retries recorded: %+v", st)
	}
}

// TestBackPressure: lanes two records deep in front of a receiver slower than the topic: the
// partitions pause and resume many times (a full lane is back-pressure, not an error) and every
// event still arrives once, in order per key.
func TestBackPressure(t *testing.T) {
	f := newFixture(t, 2, route.DLQTopic(env, "crm"))
	rcv := &slowReceiver{delay: 2 * time.Millisecond}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	c := parseConsumer(t, slowConsumer)
	var evs []ev
	for n := 1; n <= 50; n++ {
		for _, u := range []string{"a", "b", "c", "d"} {
			evs = append(evs, ev{u, "KYC", n})
		}
	}
	f.produce(t, 0, evs)
	run := f.start(t, route.RunConfig{Routes: []route.Route{{Consumer: c, Topics: map[string]string{eventID: topic}, URL: srv.URL}},
		Lanes: 1, LaneDepth: 2})
	eventually(t, "200 deliveries", func() bool { rcv.mu.Lock(); defer rcv.mu.Unlock(); return len(rcv.accepted) >= 200 })
	if err := run.wait(); err != nil {
		t.Fatal(err)
	}
	rcv.checkDelivered(t, map[string]int{"a": 50, "b": 50, "c": 50, "d": 50})
}
