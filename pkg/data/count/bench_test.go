package count

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// specTiers are the SPEC's tiers and milestones (SPEC-dataplane 12).
func specCounter() contract.Counter {
	return contract.Counter{Name: "post_likes", Key: "post_id", Where: map[string]string{"action": "LIKE"}, Sum: "1",
		Windows:    []contract.Window{{Below: 1000, Every: "5s"}, {Below: 100000, Every: "1m"}, {Every: "5m"}},
		Milestones: []int64{100, 1000, 10000, 100000, 1000000}}
}

// likeValue encodes a PostLiked like of key by hand (the generator must not be the bottleneck).
func likeValue(key string, i int) []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendString(b, key)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	b = protowire.AppendTag(b, 1000, protowire.BytesType)
	return protowire.AppendString(b, fmt.Sprintf("e%d", i))
}

// produceLikes puts n likes over 100,000 Zipf(1.1) keys into the fixture's topic, keyed by
// post_id (the counter's key), or by the like's event id when f.repartition is set (so the
// post_likes counter goes through its repartition topic).
func (f *fixture) produceLikes(n int) {
	r := rand.New(rand.NewSource(1))
	z := rand.NewZipf(r, 1.1, 1, 99_999)
	const batch = 20_000
	for done := 0; done < n; done += batch {
		recs := make([]*kgo.Record, 0, batch)
		for i := done; i < min(n, done+batch); i++ {
			key := fmt.Sprintf("p%d", z.Uint64())
			rk := []byte(key)
			if f.repartition {
				rk = []byte(fmt.Sprintf("e%d", i))
			}
			recs = append(recs, &kgo.Record{Topic: testTopic, Key: rk, Value: likeValue(key, i), Headers: []kgo.RecordHeader{
				{Key: worker.HeaderEvent, Value: []byte(testEvent)}, {Key: worker.HeaderSchema, Value: []byte(f.sha)}}})
		}
		if err := f.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			f.t.Fatal(err)
		}
	}
}

// BenchmarkConsumeBaseline is the floor BenchmarkCountEndToEnd is compared with in the same
// run: a plain franz-go group consumer reading the same b.N records from kfake and doing
// nothing with them.
func BenchmarkConsumeBaseline(b *testing.B) {
	f := newFixture(b, 6)
	f.produceLikes(b.N)
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	cl, err := kgo.NewClient(append(kafkaOpts(f.kc.Addrs, f.kc.AdminPassword), kgo.ConsumerGroup("baseline"),
		kgo.ConsumeTopics(testTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	for n := 0; n < b.N; {
		fs := cl.PollRecords(context.Background(), 10_000)
		n += fs.NumRecords()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu_us/event")
}

// BenchmarkCountEndToEnd: b.N likes over 100,000 Zipf(1.1) keys are in kfake (6 partitions)
// before the timer starts; the timer runs from the worker's start until it has handled them all
// (events/s), and the time until Redis holds every partition's fence at the end is reported
// too (e2e_s: it includes waiting for the 5 s window boundary that triggers the write).
func BenchmarkCountEndToEnd(b *testing.B) { benchCount(b, false) }

// BenchmarkCountRepartitioned is BenchmarkCountEndToEnd with the source topic keyed by each
// like's event id instead of post_id, so the post_likes counter goes through its repartition
// topic (SPEC-dataplane 12, repartition.go): each record is read from the source, produced to
// the repartition topic (keyed by post_id) and read and counted from there. events/s counts a
// like when it is counted from the repartition topic.
func BenchmarkCountRepartitioned(b *testing.B) { benchCount(b, true) }

func benchCount(b *testing.B, repartition bool) {
	f := newFixture(b, 6)
	f.repartition, f.repCounters = repartition, []string{"post_likes"}
	f.produceLikes(b.N)
	store := f.openStore()
	desc, err := blob.Open(context.Background(), f.desc)
	if err != nil {
		b.Fatal(err)
	}
	ev := EventCounters{Event: testEvent, Counters: []contract.Counter{specCounter()}}
	if repartition {
		ev.Repartition = []string{"post_likes"}
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *Handler, 1)
	done := make(chan error, 1)
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	go func() {
		done <- Run(ctx, RunConfig{Env: testEnv, Events: []EventCounters{ev},
			Topics: map[string]string{testEvent: testTopic}, Kafka: kafkaOpts(f.kc.Addrs, f.kc.AdminPassword),
			Descriptors: desc, Store: store, Started: func(h *Handler) { started <- h }})
	}()
	h := <-started
	for h.Stats().Events < int64(b.N) {
		select {
		case err := <-done:
			b.Fatalf("the worker stopped after %d events: %v", h.Stats().Events, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	handled, cpu := time.Since(start), processCPU()-cpu0
	b.StopTimer()
	f.settledFences(store, 2*time.Minute)
	e2e := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/handled.Seconds(), "events/s")
	b.ReportMetric(e2e.Seconds(), "e2e_s")
	// CPU of the whole process (the worker and kfake) per event while handling: with the
	// machine shared, a throughput that falls more than this rises was waiting, not working.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu_us/event")
	s := h.Stats()
	if s.KeyWrites > 0 {
		b.ReportMetric(float64(s.Events)/float64(s.KeyWrites), "events/keywrite")
	}
}

// processCPU is the CPU this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriteReduction drives the windowing engine (the code the worker runs) on a
// simulated clock: 300,000 likes/s over 100,000 Zipf(1.1) keys with the SPEC's tiers, b.N
// events in all (b.N/300,000 simulated seconds), 6 partitions, a flush at each 5 s boundary.
//
// The ratio depends on the values the counters hold, since they choose the tier: "cold" starts
// every counter at 0 (so every key begins in the 5 s tier, as on the first day of a new
// deployment); "history=2h" and "history=24h" start each key at the value the same traffic
// gives it in that time (its Zipf rate × the age), the steady state of a counter store that has
// been running. Windows still open at the end count as one write each (conservative: the ratio
// of a longer run is higher). Beside the measured events per key write it reports the ratio the
// arithmetic of docs/benchmarks.md predicts for the same run (model_events/keywrite).
func BenchmarkWriteReduction(b *testing.B) {
	for _, h := range []struct {
		name string
		age  time.Duration
	}{{"cold", 0}, {"history=2h", 2 * time.Hour}, {"history=24h", 24 * time.Hour}} {
		b.Run(h.name, func(b *testing.B) { benchWriteReduction(b, h.age) })
	}
}

const (
	simRate = 300_000 // likes per second
	simKeys = 100_000
	simZipf = 1.1
)

// zipfRates are the keys' like rates (per second) under rand.NewZipf(r, 1.1, 1, simKeys-1):
// P(k) is proportional to (1+k)^-1.1.
func zipfRates() []float64 {
	w := make([]float64, simKeys)
	var sum float64
	for k := range w {
		w[k] = math.Pow(float64(k+1), -simZipf)
		sum += w[k]
	}
	for k := range w {
		w[k] *= simRate / sum
	}
	return w
}

func benchWriteReduction(b *testing.B, age time.Duration) {
	b.ResetTimer()
	r := simulateReduction(b, age, b.N)
	b.StopTimer()
	b.ReportMetric(r.measured, "events/keywrite")
	b.ReportMetric(r.model, "model_events/keywrite")
	b.ReportMetric(r.perTxn, "events/txn")
	b.ReportMetric(r.sim, "sim_s")
	b.ReportMetric(float64(r.slow), "keys>=1000")
}

type reduction struct {
	measured, model, perTxn, sim float64
	slow                         int // keys at 1,000 or more at the end
}

// simulateReduction runs n events of the simulation BenchmarkWriteReduction describes.
func simulateReduction(tb testing.TB, age time.Duration, n int) reduction {
	spec, err := SpecOf(specCounter())
	if err != nil {
		tb.Fatal(err)
	}
	const parts = 6
	ps := make([]*Partition, parts)
	for i := range ps {
		ps[i] = NewPartition([]Spec{spec})
	}
	rates := zipfRates()
	vals := values{}
	keys := make([]string, simKeys)
	start := make([]int64, simKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("p%d", i)
		if age > 0 {
			start[i] = int64(rates[i] * age.Seconds())
			vals[WKey{0, keys[i]}] = start[i]
		}
	}
	r := rand.New(rand.NewSource(1))
	z := rand.NewZipf(r, simZipf, 1, simKeys-1)
	var keyWrites, txns int64
	flush := func(now int64) {
		for _, p := range ps {
			for _, k := range p.Unresolved() {
				p.Resolve(k, vals[k])
			}
			closed := p.Close(now)
			for _, c := range closed {
				vals[c.Key] += c.Delta
			}
			keyWrites += int64(len(closed))
			txns++
		}
	}
	next := int64(5000)
	for i := 0; i < n; i++ {
		now := int64(i) * 1000 / simRate // ms
		if now >= next {
			flush(now)
			next += 5000
		}
		k := z.Uint64()
		ps[k%parts].Add(WKey{0, keys[k]}, 1, now, vals)
	}
	flush(int64(n)*1000/simRate + 10*60*1000) // close everything still open
	out := reduction{sim: float64(n) / simRate, measured: float64(n) / float64(keyWrites), perTxn: float64(n) / float64(txns)}
	out.model = modelReduction(spec, rates, start, out.sim)
	for i := range keys {
		if vals[WKey{0, keys[i]}] >= 1000 {
			out.slow++
		}
	}
	return out
}

// modelReduction is the expected events per key write of the run above: each key receives
// likes as a Poisson process of its rate; a window of tier length every (aligned to the epoch,
// cut short by the run's end) is written when it got at least one like, probability
// 1-exp(-rate*len); the tier follows the key's expected value when the window opens.
func modelReduction(spec Spec, rates []float64, start []int64, sim float64) float64 {
	var events, writes float64
	for k, l := range rates {
		v := float64(start[k])
		for t := 0.0; t < sim; {
			every := spec.Tiers[spec.TierOf(int64(v))].Every.Seconds()
			end := math.Min((math.Floor(t/every)+1)*every, sim)
			writes += 1 - math.Exp(-l*(end-t))
			v += l * (end - t)
			t = end
		}
		events += l * sim
	}
	return events / writes
}
