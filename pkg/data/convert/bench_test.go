package convert

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// BenchEvent is a realistic event: about 600 bytes of JSON, 22 fields, nested, repeated, a map.
// event_id is left out, so the benchmark includes generating a UUIDv7 and received_at.
const BenchEvent = `{"video_id":"v_8f3a2c91d4e5","watch_ms":128450,"quality":"HD","tags":["comedy","shorts","trending","hindi"],` +
	`"device":{"model":"Pixel 8 Pro","os_version":"Android 15","screen_w":1344,"screen_h":2992},` +
	`"lat":28.613939,"lon":77.209023,"autoplay":true,"session_id":"s_01J9ZK3V6Q8X4T2M7N5B",` +
	`"position":17,"chunk_ms":[2000,2000,1980,2010,2000],"attrs":{"source":"feed","ab_bucket":"b12","row":"3"},` +
	`"referrer":"https://example.com/feed?tab=for_you","volume":0.75,"country":"IN","language":"hi-IN",` +
	`"event_time":"2026-11-01T10:00:00.250Z","app":"moj","platform":"android","user_id":"u_4c2e9a7b"}`

func BenchmarkConvert(b *testing.B) {
	md := message(b, allTypes(b), "Bench")
	src := []byte(BenchEvent)
	b.Run("evctl", func(b *testing.B) {
		p, err := Compile(md, Options{})
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 0, 1024)
		b.SetBytes(int64(len(src)))
		b.ReportAllocs()
		for b.Loop() {
			out, err := p.Append(buf[:0], src)
			if err != nil {
				b.Fatal(err)
			}
			buf = out
		}
	})
	b.Run("protojson", func(b *testing.B) {
		opts := Options{}
		p, _ := Compile(md, opts)
		b.SetBytes(int64(len(src)))
		b.ReportAllocs()
		for b.Loop() {
			m := dynamicpb.NewMessage(md)
			if err := protojson.Unmarshal(src, m); err != nil {
				b.Fatal(err)
			}
			if err := fillPlatform(m, p.opts); err != nil {
				b.Fatal(err)
			}
			if _, err := proto.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestBenchEventAgrees(t *testing.T) {
	p, _ := Compile(message(t, allTypes(t), "Bench"), testOpts(false))
	if d := differ(p, []byte(BenchEvent)); d != "" {
		t.Fatal(d)
	}
	if n := len(BenchEvent); n < 550 || n > 700 {
		t.Fatalf("bench event is %d bytes", n)
	}
}
