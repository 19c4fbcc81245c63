package delta

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/parquet-go/parquet-go"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
	sinkdelta "github.com/evctl/evctl/pkg/control/sink/delta"
)

// flatEvent is the ingest benchmark's 25-field event (scripts/ingestbench).
const flatEvent = `syntax = "proto3";
package bench.v1;
import "evctl/options.proto";
import "google/protobuf/timestamp.proto";
message Event {
  optional string event_id = 1 [(evctl.options.v1.required) = true];
  google.protobuf.Timestamp event_time = 2 [(evctl.options.v1.required) = true];
  google.protobuf.Timestamp received_at = 3;
  optional string app = 4;
  optional string platform = 5;
  optional string user_id = 6;
  optional string s1 = 7; optional string s2 = 8; optional string s3 = 9; optional string s4 = 10; optional string s5 = 11;
  optional string s6 = 12; optional string s7 = 13; optional string s8 = 14; optional string s9 = 15;
  optional int64 i1 = 16; optional int64 i2 = 17; optional int64 i3 = 18; optional int64 i4 = 19; optional int64 i5 = 20;
  optional double d1 = 21; optional double d2 = 22; optional double d3 = 23;
  optional bool b1 = 24; optional bool b2 = 25;
}
`

// flatLayout is the layout of flatEvent in its table (partitioned by event_date).
func flatLayout(b *testing.B) *layout {
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: func(path string) (io.ReadCloser, error) {
			if path == "event.proto" {
				return io.NopCloser(strings.NewReader(flatEvent)), nil
			}
			if src, ok := evoptions.Source(path); ok {
				return io.NopCloser(bytes.NewReader(src)), nil
			}
			return nil, os.ErrNotExist
		}})}
	files, err := c.Compile(context.Background(), "event.proto")
	if err != nil {
		b.Fatal(err)
	}
	md := files[0].Messages().ByName("Event")
	spec, err := sinkdelta.NewTableSpec("feed/event", "prod", md, []string{eventDate})
	if err != nil {
		b.Fatal(err)
	}
	l, err := newLayout(spec.Schema, "", spec.PartitionColumns, md, nil)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkShredFlat: the worker goroutine's share of a record of the benchmark's event (top-level
// decode, partition value, shredding into column batches), without Kafka or encoding.
func BenchmarkShredFlat(b *testing.B) {
	l := flatLayout(b)
	var err error
	vals := make([][]byte, 1000)
	for i := range vals {
		vals[i] = flatValue(i)
	}
	s := l.newShredder()
	cols := make([][]parquet.Value, l.ncols)
	var parts []string
	cpu0 := cpuTimeOf(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%batchRows == 0 {
			for c := range cols {
				cols[c] = cols[c][:0]
			}
		}
		if parts, err = s.start(vals[i%len(vals)], parts); err != nil {
			b.Fatal(err)
		}
		if err := s.into(cols); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTimeOf(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func cpuTimeOf(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// flatValue is event i of flatEvent as wire bytes, about 600 bytes like the benchmark's.
func flatValue(i int) []byte {
	var out []byte
	str := func(n protowire.Number, v string) {
		out = protowire.AppendTag(out, n, protowire.BytesType)
		out = protowire.AppendString(out, v)
	}
	ts := func(n protowire.Number, sec int64) {
		var m []byte
		m = protowire.AppendTag(m, 1, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(sec))
		m = protowire.AppendTag(m, 2, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(i*1000))
		out = protowire.AppendTag(out, n, protowire.BytesType)
		out = protowire.AppendBytes(out, m)
	}
	str(1, fmt.Sprintf("%08x-0000-7000-0000-%012x", i, i*7919))
	ts(2, 1_780_000_000+int64(i))
	ts(3, 1_780_000_000+int64(i))
	str(4, "shop-android")
	str(5, []string{"android", "ios", "web"}[i%3])
	str(6, fmt.Sprintf("user-%09d", i*31))
	for k := 0; k < 9; k++ {
		str(protowire.Number(7+k), fmt.Sprintf("feed/reels/%08x-%04x/search/inbox/%08x-%04x", i*k, k, i+k, i%65536))
	}
	for k := 0; k < 5; k++ {
		out = protowire.AppendTag(out, protowire.Number(16+k), protowire.VarintType)
		out = protowire.AppendVarint(out, uint64(i*k*1_000_003))
	}
	for k := 0; k < 3; k++ {
		out = protowire.AppendTag(out, protowire.Number(21+k), protowire.Fixed64Type)
		out = protowire.AppendFixed64(out, math.Float64bits(float64(i)*1.5+float64(k)))
	}
	for k := 0; k < 2; k++ {
		out = protowire.AppendTag(out, protowire.Number(24+k), protowire.VarintType)
		out = protowire.AppendVarint(out, protowire.EncodeBool((i+k)%2 == 0))
	}
	return out
}
