package delta

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// BenchmarkWriteFlat: the writer's whole CPU for the ingest benchmark's event (random values as
// scripts/ingestbench makes them): decode, shred, encode and compress into one file, per record.
// No Kafka and no store: what is left of the worker's CPU per event besides fetching.
func BenchmarkWriteFlat(b *testing.B) {
	l := flatLayout(b)
	rng := rand.New(rand.NewPCG(0, 7))
	vals := make([][]byte, 4096)
	for i := range vals {
		vals[i] = randomFlatValue(rng, i, time.Unix(1_780_000_000, 0))
	}
	s := l.newShredder()
	var parts []string
	var err error
	buf := new(bytes.Buffer)
	fw := newFileWriter(l, nil, "", "f.parquet", buf)
	cpu0 := cpuTimeOf(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if parts, err = s.start(vals[i%len(vals)], parts); err != nil {
			b.Fatal(err)
		}
		if err := fw.add(s); err != nil {
			b.Fatal(err)
		}
		if fw.nrows == 500000 {
			if err := fw.finish(); err != nil {
				b.Fatal(err)
			}
			buf.Reset()
			fw = newFileWriter(l, nil, "", "f.parquet", buf)
		}
	}
	if err := fw.finish(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((cpuTimeOf(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// randomFlatValue is event i of flatEvent with values like scripts/ingestbench's generator.
func randomFlatValue(rng *rand.Rand, i int, at time.Time) []byte {
	words := []string{"feed", "reels", "search", "profile", "settings", "notifications", "camera", "stories", "explore", "inbox"}
	str := func() string {
		return fmt.Sprintf("%s/%s/%08x-%04x", words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.Uint32(), rng.IntN(65536))
	}
	var b []byte
	bs := func(n protowire.Number, s string) {
		b = protowire.AppendTag(b, n, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	ts := func(n protowire.Number, t time.Time) {
		var m []byte
		m = protowire.AppendTag(m, 1, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(t.Unix()))
		m = protowire.AppendTag(m, 2, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(t.Nanosecond()))
		b = protowire.AppendTag(b, n, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	bs(1, fmt.Sprintf("%08x-%04x-7%03x-%04x-%012x", i, rng.IntN(65536), rng.IntN(4096), rng.IntN(65536), rng.Uint64()&0xffffffffffff))
	ts(2, at)
	ts(3, at.Add(time.Millisecond))
	bs(4, "shop-android")
	bs(5, []string{"android", "ios", "web"}[i%3])
	bs(6, fmt.Sprintf("user-%09d", rng.IntN(1e9)))
	for k := 0; k < 9; k++ {
		bs(protowire.Number(7+k), str()+"/"+str())
	}
	for k := 0; k < 5; k++ {
		b = protowire.AppendTag(b, protowire.Number(16+k), protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(rng.Int64N(1<<40)))
	}
	for k, d := range []float64{rng.Float64(), rng.Float64() * 1000, rng.NormFloat64()} {
		b = protowire.AppendTag(b, protowire.Number(21+k), protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(d))
	}
	for k, v := range []bool{i%2 == 0, i%3 == 0} {
		b = protowire.AppendTag(b, protowire.Number(24+k), protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(v))
	}
	return b
}
