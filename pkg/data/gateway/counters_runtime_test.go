package gateway

import (
	"math"
	rtmetrics "runtime/metrics"
	"testing"
)

// runtimeStats is the part of a benchmark's read latency the Go runtime explains, from
// runtime/metrics read before and after the run: how long runnable goroutines waited for a CPU
// (the scheduler's latency), the GC's stop-the-world pauses, and the GC's share of the CPU.
type runtimeStats struct{ before []rtmetrics.Sample }

func readRuntime() []rtmetrics.Sample {
	names := []string{
		"/sched/latencies:seconds",
		"/sched/pauses/total/gc:seconds",
		"/gc/cycles/total:gc-cycles",
		"/cpu/classes/gc/total:cpu-seconds",
		"/cpu/classes/total:cpu-seconds",
		"/cpu/classes/idle:cpu-seconds",
		"/gc/heap/allocs:bytes",
		"/gc/heap/allocs:objects",
	}
	s := make([]rtmetrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	rtmetrics.Read(s)
	return s
}

func startRuntimeStats() *runtimeStats { return &runtimeStats{before: readRuntime()} }

// report adds sched_p99_ms, sched_max_ms, gc_cycles, gc_pause_max_ms, gc_cpu_pct (the GC's
// share of the CPU the process used, idle excluded) and the bytes and objects the process
// allocated per read (gw_alloc_B/read, gw_allocs/read: what drives the GC's frequency).
func (r *runtimeStats) report(b *testing.B) {
	after := readRuntime()
	sched := histDelta(r.before[0].Value.Float64Histogram(), after[0].Value.Float64Histogram())
	pauses := histDelta(r.before[1].Value.Float64Histogram(), after[1].Value.Float64Histogram())
	b.ReportMetric(sched.quantile(0.99)*1000, "sched_p99_ms")
	b.ReportMetric(sched.quantile(1)*1000, "sched_max_ms")
	b.ReportMetric(float64(after[2].Value.Uint64()-r.before[2].Value.Uint64()), "gc_cycles")
	b.ReportMetric(pauses.quantile(1)*1000, "gc_pause_max_ms")
	gc := after[3].Value.Float64() - r.before[3].Value.Float64()
	used := (after[4].Value.Float64() - r.before[4].Value.Float64()) - (after[5].Value.Float64() - r.before[5].Value.Float64())
	if used > 0 {
		b.ReportMetric(100*gc/used, "gc_cpu_pct")
	}
	if b.N > 0 {
		b.ReportMetric(float64(after[6].Value.Uint64()-r.before[6].Value.Uint64())/float64(b.N), "gw_alloc_B/read")
		b.ReportMetric(float64(after[7].Value.Uint64()-r.before[7].Value.Uint64())/float64(b.N), "gw_allocs/read")
	}
}

// hist is the difference of two readings of a runtime/metrics histogram.
type hist struct {
	counts  []uint64
	buckets []float64
}

func histDelta(a, b *rtmetrics.Float64Histogram) hist {
	h := hist{counts: make([]uint64, len(b.Counts)), buckets: b.Buckets}
	for i := range b.Counts {
		h.counts[i] = b.Counts[i] - a.Counts[i]
	}
	return h
}

// quantile returns the upper bound of the bucket holding quantile q (q = 1: the highest
// non-empty bucket), the conservative reading of a histogram.
func (h hist) quantile(q float64) float64 {
	var total uint64
	for _, c := range h.counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= want && c > 0 {
			up := h.buckets[i+1]
			if math.IsInf(up, 1) {
				up = h.buckets[i]
			}
			return up
		}
	}
	return 0
}
