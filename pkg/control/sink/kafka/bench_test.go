package kafka_test

import (
	"fmt"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
)

// BenchmarkApplyTopics creates 200 topics per iteration against kfake over loopback with SASL,
// once as one ApplyBatch (one CreateTopics request) and once with one Apply per topic. The
// topics are deleted, untimed, between iterations.
func BenchmarkApplyTopics(b *testing.B) {
	const n = 200
	kc := kafkatest.Start(b)
	s := kafka.NewTopicSink(kafkatest.Admin(b, kc))
	spec, _ := kafka.NewTopicSpec(3, "7d", map[string]string{"compression.type": "zstd"})

	for _, mode := range []string{"batched", "one_at_a_time"} {
		b.Run(mode, func(b *testing.B) {
			ctx := testCtx(b)
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				want := make([]sink.Desired, n)
				for k := range want {
					want[k] = topicWant(fmt.Sprintf("bench.%s.%d.%03d", mode, i, k), spec)
				}
				cs := plan(b, s, want...)
				b.StartTimer()
				if mode == "batched" {
					for _, err := range s.ApplyBatch(ctx, cs) {
						if err != nil {
							b.Fatal(err)
						}
					}
				} else {
					for _, c := range cs {
						if err := s.Apply(ctx, c); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StopTimer()
				for k := range want {
					want[k].Absent = true
				}
				applyAll(b, s, plan(b, s, want...))
				b.StartTimer()
			}
			b.ReportMetric(float64(n), "topics/op")
		})
	}
}
