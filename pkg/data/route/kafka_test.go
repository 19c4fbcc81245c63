package route_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/data/route"
)

const kafkaConsumer = `name: %s
owner: {team: growth}
events: [identity/step_completed]
where: {step: KYC}
transform: |
  {"user": {{json .user}}, "n": {{json .n}}, "id": {{json .event_id}}}
deliver:
  kafka: {topic: %s}
retry: {max_attempts: %d, backoff: 50ms, max_backoff: 200ms}
`

// TestKafkaDelivery: deliver.kafka produces each rendered body to its topic, keyed by the
// event's key, with the HTTP delivery's headers as record headers; read back from kfake. A topic
// that appears late is retried until it exists; one that never appears sends the events to the
// consumer's DLQ after max_attempts, with the last error.
func TestKafkaDelivery(t *testing.T) {
	f := newFixture(t, 3, "crm.nudges", route.DLQTopic(env, "crm"), route.DLQTopic(env, "late"), route.DLQTopic(env, "never"))
	var evs []ev
	for n := 1; n <= 5; n++ {
		evs = append(evs, ev{"u1", "KYC", n}, ev{"u2", "KYC", n}, ev{"u3", "PROFILE", n})
	}
	f.produce(t, 0, evs)

	mk := func(name, to string, attempts int) route.Route {
		c := parseConsumer(t, fmt.Sprintf(kafkaConsumer, name, to, attempts))
		return route.Route{Consumer: c, Topics: map[string]string{eventID: topic}}
	}
	rc := route.RunConfig{Routes: []route.Route{mk("crm", "crm.nudges", 5), mk("late", "late.nudges", 1000), mk("never", "never.nudges", 2)}}
	// Unknown topics fail fast in the producer so the consumer's own retries are what is tested.
	f.opts = append(f.opts, kgo.MetadataMinAge(50*time.Millisecond), kgo.UnknownTopicRetries(1))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc.Listener = ln
	run := f.start(t, rc)

	got := f.readTopic(t, "crm.nudges", 10)
	last := map[string]float64{}
	for _, r := range got {
		var body map[string]any
		if err := json.Unmarshal(r.Value, &body); err != nil {
			t.Fatalf("value %q: %v", r.Value, err)
		}
		user, _ := body["user"].(string)
		n, _ := body["n"].(float64)
		if string(r.Key) != user || hdr(r, route.HeaderContentType) != "application/json" || hdr(r, route.HeaderIdempotencyKey) != body["id"] ||
			hdr(r, route.HeaderEvent) != eventID || hdr(r, route.HeaderConsumer) != "crm" {
			t.Errorf("record key %q headers %v body %v", r.Key, r.Headers, body)
		}
		if n <= last[user] {
			t.Errorf("user %s: n %v after %v", user, n, last[user])
		}
		last[user] = n
	}
	if last["u1"] != 5 || last["u2"] != 5 || last["u3"] != 0 {
		t.Errorf("delivered up to %v", last)
	}

	// One /metrics for the three consumers, each worker's series labelled with its consumer, and
	// /readyz once every worker joined its group.
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	eventually(t, "every consumer's worker metrics", func() bool {
		_, m := get("/metrics")
		for _, c := range []string{"crm", "late", "never"} {
			if !strings.Contains(m, `evctl_worker_records_in_total{consumer="`+c+`",topic="`+topic+`"} 15`) {
				return false
			}
		}
		return strings.Contains(m, `evctl_route_deliveries_total{consumer="crm",outcome="delivered"} 10`)
	})
	eventually(t, "/readyz", func() bool { code, _ := get("/readyz"); return code == http.StatusOK })

	// "never": two attempts per event, then the DLQ with the producer's error.
	dead := f.readTopic(t, route.DLQTopic(env, "never"), 10)
	for _, r := range dead {
		if hdr(r, route.HeaderDLQAttempts) != "2" || !strings.Contains(hdr(r, route.HeaderDLQReason), "gave up after 2 attempts") ||
			!strings.Contains(hdr(r, route.HeaderDLQReason), "UNKNOWN_TOPIC") {
			t.Errorf("DLQ record: attempts %s reason %q", hdr(r, route.HeaderDLQAttempts), hdr(r, route.HeaderDLQReason))
		}
	}

	// "late": retried while its topic is missing, delivered once apply creates it.
	var late *route.Handler
	eventually(t, "late's retries", func() bool {
		for _, h := range run.all() {
			if h.Consumer().Name == "late" && h.Stats().Retries > 0 {
				late = h
				return true
			}
		}
		return false
	})
	f.createTopic(t, "late.nudges", 1)
	if n := len(f.readTopic(t, "late.nudges", 10)); n < 10 {
		t.Fatalf("late.nudges: %d records", n)
	}
	if st := late.Stats(); st.DeadLettered != 0 {
		t.Errorf("late dead-lettered %d", st.DeadLettered)
	}
}
