package delta_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/data/worker"
)

// BenchmarkHandle: records of the all-types event shredded into the open Parquet file and
// committed every 10000 rows to a file:// table (no Kafka: the writer alone).
func BenchmarkHandle(b *testing.B) {
	f := &fixture{lakeDir: b.TempDir(), location: "feed/all_types_v1", topic: "t", partitions: 1, partitionBy: []string{"event_date"}}
	md, set := compile(b, "")
	f.md, f.sha = md, sha(set)
	f.createTable(b, md)
	h := handlerFor(b, f)
	vals := values(b, md, 0, 1000)
	sc := &worker.Schema{SHA256: f.sha, Message: md}
	ctx := context.Background()
	if _, err := h.Assigned(ctx, []worker.TopicPartition{{Topic: "t"}}); err != nil {
		b.Fatal(err)
	}
	var bytes int64
	for _, v := range vals {
		bytes += int64(len(v))
	}
	b.SetBytes(bytes / int64(len(vals)))
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := &worker.Record{Record: &kgo.Record{Topic: "t", Offset: int64(i), Value: vals[i%len(vals)]}, Schema: sc}
		if err := h.Handle(ctx, rec); err != nil {
			b.Fatal(err)
		}
		if i%10000 == 9999 {
			if _, err := h.Flush(ctx, true); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := h.Flush(ctx, true); err != nil {
		b.Fatal(err)
	}
	// CPU time per record (every goroutine of the process): on a shared machine wall time per
	// op measures the neighbours as much as the writer.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
