package route_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/data/route"
	"github.com/evctl/evctl/pkg/data/worker"
)

// The benchmarks of issue 14 (scripts/bench-route.sh runs them and writes docs/benchmarks.md):
// one route process with 8 consumers delivering to a loopback HTTP receiver, the receiver's raw
// rate with a plain HTTP client loop (the baseline), and produce→delivery latency at a fixed
// 300 events/s.

const benchPartitions = 8

const benchConsumer = `name: c%d
owner: {team: growth}
events: [identity/step_completed]
transform: '{"user": {{json .user}}, "n": {{json .n}}, "step": {{json .step}}, "id": {{json .event_id}}}'
deliver:
  http: {url_env: URL, timeout: 5s}
retry: {max_attempts: 5, backoff: 100ms, max_backoff: 1s}
`

// countingReceiver answers 200 to everything and counts deliveries; with lat set it also records
// produce→delivery latency from the body's n (the produce time in unix nanoseconds).
type countingReceiver struct {
	n   atomic.Int64
	lat bool
	mu  sync.Mutex
	ds  []time.Duration
}

func (r *countingReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	if r.lat {
		var body struct{ N int64 }
		if json.Unmarshal(b, &body) == nil && body.N > 0 {
			d := time.Since(time.Unix(0, body.N))
			r.mu.Lock()
			r.ds = append(r.ds, d)
			r.mu.Unlock()
		}
	}
	r.n.Add(1)
	w.WriteHeader(http.StatusOK)
}

// produceN writes n events over 64 keys; n of each is its produce time when stamp is set.
func (f *fixture) produceN(b testing.TB, n int, stamp bool) {
	b.Helper()
	m := dynamicpb.NewMessage(f.md)
	fd := func(name string) protoreflect.FieldDescriptor { return f.md.Fields().ByName(protoreflect.Name(name)) }
	recs := make([]*kgo.Record, 0, 10000)
	flush := func() {
		if err := f.cl.ProduceSync(b.Context(), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		recs = recs[:0]
	}
	for i := range n {
		user := fmt.Sprintf("u%d", i%64)
		m.Set(fd("event_id"), protoreflect.ValueOfString(fmt.Sprintf("b-%d", i)))
		m.Set(fd("user"), protoreflect.ValueOfString(user))
		m.Set(fd("step"), protoreflect.ValueOfEnum(1))
		v := int64(i)
		if stamp {
			v = time.Now().UnixNano()
		}
		m.Set(fd("n"), protoreflect.ValueOfInt64(v))
		val, _ := proto.Marshal(m)
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(user), Value: val, Headers: []kgo.RecordHeader{
			{Key: worker.HeaderEvent, Value: []byte(eventID)}, {Key: worker.HeaderSchema, Value: []byte(f.sha)}}})
		if stamp || len(recs) == cap(recs) {
			flush()
		}
	}
	if len(recs) > 0 {
		flush()
	}
}

func benchRoutes(b testing.TB, consumers int, url string) []route.Route {
	var rs []route.Route
	for i := range consumers {
		rs = append(rs, route.Route{Consumer: parseConsumer(b, fmt.Sprintf(benchConsumer, i)), Topics: map[string]string{eventID: topic}, URL: url})
	}
	return rs
}

func benchTune(wc *worker.Config) {
	wc.Kafka = append(wc.Kafka, kgo.FetchMaxWait(50*time.Millisecond))
}

// BenchmarkRouteThroughput: b.N deliveries by one route.Run with 8 consumers (b.N/8 events,
// each delivered to every consumer), from kfake to a loopback HTTP receiver.
func BenchmarkRouteThroughput(b *testing.B) {
	const consumers = 8
	f := newFixture(b, benchPartitions)
	events := max(b.N/consumers, 1)
	f.produceN(b, events, false)
	rcv := &countingReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	b.ResetTimer()
	start := time.Now()
	run := f.start(b, route.RunConfig{Routes: benchRoutes(b, consumers, srv.URL), Tune: benchTune, CommitEvery: time.Second})
	want := int64(events * consumers)
	for rcv.n.Load() < want {
		time.Sleep(2 * time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	_ = run.wait()
	b.ReportMetric(float64(want)/el.Seconds(), "deliveries/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkReceiverBaseline: the same receiver's raw rate: b.N POSTs of a similar body from a
// plain net/http client loop (32 goroutines, kept-alive connections), no Kafka.
func BenchmarkReceiverBaseline(b *testing.B) {
	rcv := &countingReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	client := route.NewHTTPClient()
	body := []byte(`{"user": "u1", "n": 12345, "step": "KYC", "id": "b-12345"}`)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", "b-1")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "deliveries/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRouteLatency: b.N events produced at 300/s (one produce call each, as the gateway
// does) to one consumer; p50/p99 from produce to the receiver's handler.
func BenchmarkRouteLatency(b *testing.B) {
	f := newFixture(b, benchPartitions)
	rcv := &countingReceiver{lat: true}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	run := f.start(b, route.RunConfig{Routes: benchRoutes(b, 1, srv.URL), Tune: benchTune, CommitEvery: time.Second})
	// Warm up: the group joins and the first delivery goes through before timing starts.
	f.produceN(b, 1, true)
	for rcv.n.Load() < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	rcv.mu.Lock()
	rcv.ds = nil
	rcv.mu.Unlock()
	b.ResetTimer()
	tick := time.NewTicker(time.Second / 300)
	for range b.N {
		<-tick.C
		f.produceN(b, 1, true)
	}
	tick.Stop()
	for rcv.n.Load() < int64(b.N)+1 {
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	_ = run.wait()
	rcv.mu.Lock()
	ds := slices.Clone(rcv.ds)
	rcv.mu.Unlock()
	slices.Sort(ds)
	q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.50), "p50_ms")
	b.ReportMetric(q(0.99), "p99_ms")
	b.ReportMetric(0, "ns/op")
}
