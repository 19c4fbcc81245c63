package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

func mathBits(f float64) uint64 { return math.Float64bits(f) }

// proto is the benchmark's 25-field event (about 600 bytes encoded).
const protoSrc = `syntax = "proto3";
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

// Row is the same event as a Go struct, for the bare parquet-go baseline (the codec is the
// writer's option, not a tag, so the baseline can use the level the ingest writer uses).
type Row struct {
	EventID    string    `parquet:"event_id"`
	EventTime  time.Time `parquet:"event_time,timestamp(microsecond)"`
	ReceivedAt time.Time `parquet:"received_at,timestamp(microsecond),optional"`
	App        *string   `parquet:"app,optional"`
	Platform   *string   `parquet:"platform,optional"`
	UserID     *string   `parquet:"user_id,optional"`
	S1         *string   `parquet:"s1,optional"`
	S2         *string   `parquet:"s2,optional"`
	S3         *string   `parquet:"s3,optional"`
	S4         *string   `parquet:"s4,optional"`
	S5         *string   `parquet:"s5,optional"`
	S6         *string   `parquet:"s6,optional"`
	S7         *string   `parquet:"s7,optional"`
	S8         *string   `parquet:"s8,optional"`
	S9         *string   `parquet:"s9,optional"`
	I1         *int64    `parquet:"i1,optional"`
	I2         *int64    `parquet:"i2,optional"`
	I3         *int64    `parquet:"i3,optional"`
	I4         *int64    `parquet:"i4,optional"`
	I5         *int64    `parquet:"i5,optional"`
	D1         *float64  `parquet:"d1,optional"`
	D2         *float64  `parquet:"d2,optional"`
	D3         *float64  `parquet:"d3,optional"`
	B1         *bool     `parquet:"b1,optional"`
	B2         *bool     `parquet:"b2,optional"`
}

var words = []string{"feed", "reels", "search", "profile", "settings", "notifications", "camera", "stories", "explore", "inbox"}

// gen makes event i as wire bytes and as a Row with the same values.
func gen(rng *rand.Rand, i int, at time.Time) ([]byte, Row) {
	str := func() string {
		return fmt.Sprintf("%s/%s/%08x-%04x", words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.Uint32(), rng.IntN(65536))
	}
	r := Row{EventID: fmt.Sprintf("%08x-%04x-7%03x-%04x-%012x", i, rng.IntN(65536), rng.IntN(4096), rng.IntN(65536), rng.Uint64()&0xffffffffffff),
		EventTime: at.Truncate(time.Microsecond), ReceivedAt: at.Add(time.Millisecond).Truncate(time.Microsecond)}
	p := func(s string) *string { return &s }
	r.App, r.Platform, r.UserID = p("shop-android"), p([]string{"android", "ios", "web"}[i%3]), p(fmt.Sprintf("user-%09d", rng.IntN(1e9)))
	ss := []**string{&r.S1, &r.S2, &r.S3, &r.S4, &r.S5, &r.S6, &r.S7, &r.S8, &r.S9}
	for _, s := range ss {
		*s = p(str() + "/" + str())
	}
	is := []**int64{&r.I1, &r.I2, &r.I3, &r.I4, &r.I5}
	for _, x := range is {
		v := rng.Int64N(1 << 40)
		*x = &v
	}
	d1, d2, d3 := rng.Float64(), rng.Float64()*1000, rng.NormFloat64()
	r.D1, r.D2, r.D3 = &d1, &d2, &d3
	b1, b2 := i%2 == 0, i%3 == 0
	r.B1, r.B2 = &b1, &b2

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
	bs(1, r.EventID)
	ts(2, r.EventTime)
	ts(3, r.ReceivedAt)
	bs(4, *r.App)
	bs(5, *r.Platform)
	bs(6, *r.UserID)
	for k, s := range ss {
		bs(protowire.Number(7+k), **s)
	}
	for k, x := range is {
		b = protowire.AppendTag(b, protowire.Number(16+k), protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(**x))
	}
	for k, d := range []float64{d1, d2, d3} {
		b = protowire.AppendTag(b, protowire.Number(21+k), protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, mathBits(d))
	}
	for k, v := range []bool{b1, b2} {
		b = protowire.AppendTag(b, protowire.Number(24+k), protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(v))
	}
	return b, r
}
