package route_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/data/route"
	"github.com/evctl/evctl/pkg/data/worker"
)

const (
	eventID = "identity/step_completed"
	topic   = "local.identity.step_completed.v1"
	env     = "local"
)

const schema = `syntax = "proto3";
package identity.v1;
import "google/protobuf/timestamp.proto";
enum Step { STEP_UNSPECIFIED = 0; KYC = 1; PROFILE = 2; }
message StepCompleted {
  optional string event_id = 1;
  google.protobuf.Timestamp event_time = 2;
  optional string user = 3;
  optional Step step = 4;
  optional int64 n = 5;
}
`

const consumerYAML = `name: crm
owner: {team: growth}
events: [identity/step_completed]
where: {step: KYC}
transform: |
  {"user": {{json .user}}, "n": {{json .n}}, "step": {{json .step}}, "ms": {{toUnixMillis .event_time}}}
deliver:
  http: {url_env: CRM_URL, method: POST, timeout: 2s, max_rps: 500, headers: {X-Source: evctl}}
retry: {max_attempts: 4, backoff: 10ms, max_backoff: 2s}
`

// receiver is a real HTTP server on loopback: it answers 503 to user u1's first failFirst requests,
// 429 with Retry-After: 1 to user u2's first request, 400 to user "bad", 503 always to user
// "down", and 2xx otherwise, recording what it accepted.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	seen      int
	u1Failed  int
	u2Limited bool
	accepted  []request
	attempts  map[string]int // by Idempotency-Key
}

type request struct {
	Body                                  map[string]any
	ContentType, Key, Event, Source, User string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen++
	key := req.Header.Get("Idempotency-Key")
	r.attempts[key]++
	user, _ := body["user"].(string)
	switch {
	case user == "u1" && r.u1Failed < r.failFirst:
		r.u1Failed++
		http.Error(w, "warming up", http.StatusServiceUnavailable)
	case user == "u2" && !r.u2Limited:
		r.u2Limited = true
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case user == "bad":
		http.Error(w, "no such user", http.StatusBadRequest)
	case user == "down":
		http.Error(w, "backend down", http.StatusBadGateway)
	default:
		r.accepted = append(r.accepted, request{Body: body, ContentType: req.Header.Get("Content-Type"), Key: key,
			Event: req.Header.Get("evctl-event"), Source: req.Header.Get("X-Source"), User: user})
		w.WriteHeader(http.StatusAccepted)
	}
}

func TestRouteDeliversRetriesAndDeadLetters(t *testing.T) {
	f := newFixture(t, 3, route.DLQTopic(env, "crm"))
	sha := f.sha
	// Events: u1 and u2 five each (in order per key), PROFILE steps that the filter drops, one
	// for "bad" (400) and one for "down" (502 until max_attempts).
	var evs []ev
	for n := 1; n <= 5; n++ {
		evs = append(evs, ev{"u1", "KYC", n}, ev{"u2", "KYC", n}, ev{"u1", "PROFILE", 100 + n})
	}
	evs = append(evs, ev{"bad", "KYC", 1}, ev{"down", "KYC", 1})
	values := f.produce(t, 0, evs)

	rcv := &receiver{failFirst: 2, attempts: map[string]int{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()

	c, diags := consumer.Parse("consumers/crm.yaml", []byte(consumerYAML))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	run := f.start(t, route.RunConfig{Routes: []route.Route{{Consumer: c, Topics: map[string]string{eventID: topic}, URL: srv.URL + "/hook"}}, Listener: ln})

	dead := map[string]*kgo.Record{}
	for _, r := range f.readTopic(t, route.DLQTopic(env, "crm"), 2) {
		dead[string(r.Key)] = r
	}
	// Wait until the receiver accepted all ten KYC events of u1 and u2.
	eventually(t, "ten deliveries", func() bool { rcv.mu.Lock(); defer rcv.mu.Unlock(); return len(rcv.accepted) >= 10 })
	// /metrics says the same (scraped over HTTP from the route process's listener).
	eventually(t, "the metrics", func() bool {
		resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := string(b)
		return strings.Contains(m, `evctl_route_deliveries_total{consumer="crm",outcome="delivered"} 10`) &&
			strings.Contains(m, `evctl_route_deliveries_total{consumer="crm",outcome="dead_lettered"} 2`) &&
			strings.Contains(m, `evctl_route_filtered_total{consumer="crm"} 5`) && strings.Contains(m, `evctl_route_queued{consumer="crm"} 0`) &&
			strings.Contains(m, "evctl_worker_records_in_total")
	})
	if err := run.wait(); err != nil {
		t.Fatalf("route.Run: %v", err)
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	last := map[string]float64{}
	for _, r := range rcv.accepted {
		if r.ContentType != "application/json" || r.Event != eventID || r.Source != "evctl" || !strings.HasPrefix(r.Key, "e-") {
			t.Errorf("headers: %+v", r)
		}
		n, _ := r.Body["n"].(float64)
		if n <= last[r.User] {
			t.Errorf("user %s: n %v delivered after %v (out of order or twice)", r.User, n, last[r.User])
		}
		last[r.User] = n
		if r.Body["step"] != "KYC" || r.Body["ms"] != float64(1793527200000) {
			t.Errorf("body rendered wrong: %v", r.Body)
		}
	}
	if last["u1"] != 5 || last["u2"] != 5 {
		t.Errorf("last delivered: %v, want u1 and u2 at 5", last)
	}
	if !rcv.u2Limited {
		t.Error("u2 was never answered 429")
	}

	bad, down := dead["bad"], dead["down"]
	if bad == nil || down == nil {
		t.Fatalf("DLQ keys: %v", dead)
	}
	if hdr(bad, route.HeaderDLQAttempts) != "1" || hdr(bad, route.HeaderDLQLastStatus) != "400" || !strings.Contains(hdr(bad, route.HeaderDLQReason), "no such user") {
		t.Errorf("bad: attempts %s status %s reason %q", hdr(bad, route.HeaderDLQAttempts), hdr(bad, route.HeaderDLQLastStatus), hdr(bad, route.HeaderDLQReason))
	}
	if hdr(down, route.HeaderDLQAttempts) != "4" || hdr(down, route.HeaderDLQLastStatus) != "502" || !strings.Contains(hdr(down, route.HeaderDLQReason), "backend down") {
		t.Errorf("down: attempts %s status %s reason %q", hdr(down, route.HeaderDLQAttempts), hdr(down, route.HeaderDLQLastStatus), hdr(down, route.HeaderDLQReason))
	}
	for _, r := range []*kgo.Record{bad, down} {
		if id := hdr(r, "evctl-dlq-offset"); id == "" || hdr(r, worker.HeaderSchema) != sha {
			t.Errorf("DLQ record lacks its origin headers: %v", r.Headers)
		}
		found := false
		for _, v := range values {
			if bytes.Equal(v, r.Value) {
				found = true
			}
		}
		if !found {
			t.Error("DLQ record does not carry the original bytes")
		}
	}
	st := run.handler().Stats()
	if st.Filtered != 5 || st.DeadLettered != 2 || st.Delivered != 10 || st.Retries != 2+1+3 { // u1 twice (503), u2 once (429), down three times (502)
		t.Errorf("stats %+v", st)
	}
}
