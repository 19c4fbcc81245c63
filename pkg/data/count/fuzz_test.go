package count

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/worker"
)

func fuzzMessage(f *testing.F) protoreflect.MessageDescriptor {
	c := protocompile.Compiler{Resolver: &protocompile.SourceResolver{Accessor: func(p string) (io.ReadCloser, error) {
		if p != "post_liked.proto" {
			return nil, os.ErrNotExist
		}
		return io.NopCloser(strings.NewReader(testProto)), nil
	}}}
	files, err := c.Compile(context.Background(), "post_liked.proto")
	if err != nil {
		f.Fatal(err)
	}
	return files[0].Messages().ByName("PostLiked")
}

// FuzzExtract: the wire-level extractor never panics, and on every value protobuf-go accepts it
// reads the same key, filter and sum as a full decode.
func FuzzExtract(f *testing.F) {
	md := fuzzMessage(f)
	x, err := newExtractor(md, testCounters(), []int{0, 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(likeValue("p1", 1))
	f.Add([]byte{0x0a, 0x02, 'p', '1', 0x10, 0x02, 0x18, 0x05})
	f.Add([]byte{0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		vals := make([]raw, len(x.fields))
		hits, err := x.hits(b, vals, nil)
		m := dynamicpb.NewMessage(md)
		if proto.Unmarshal(b, m) != nil || err != nil {
			return
		}
		fd := md.Fields()
		key := m.Get(fd.ByName("post_id")).String()
		var want []hit
		if m.Get(fd.ByName("action")).Enum() == 1 {
			want = append(want, hit{counter: 0, key: key, delta: 1})
		}
		if w := m.Get(fd.ByName("weight")).Int(); w != 0 {
			want = append(want, hit{counter: 1, key: key, delta: w})
		}
		if len(hits) != len(want) {
			t.Fatalf("hits %v, full decode says %v", hits, want)
		}
		for i := range want {
			if got := hits[i]; got.counter != want[i].counter || got.Key() != want[i].key || got.delta != want[i].delta {
				t.Fatalf("hit %d = %+v, full decode says %+v", i, hits[i], want[i])
			}
		}
	})
}

// FuzzOutbox: whatever bytes a store holds as an outbox, reading it and rebuilding the write's
// changes never panics.
func FuzzOutbox(f *testing.F) {
	f.Add([]byte(`{"at":1,"open":[{"c":"post_likes","k":"p","d":3,"o":1,"t":0,"e":5000}],"closed":[{"c":"post_likes","k":"p","d":2}],"marks":{"0":4}}`))
	f.Add([]byte(`{"open":[{"c":"nope","t":99}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ob, err := decodeOutbox(b)
		if err != nil {
			return
		}
		_, _ = ob.changes(counterstore.Fence{Values: []int64{1, 2}})
		spec, _ := SpecOf(testCounters()[0])
		p := NewPartition([]Spec{spec})
		p.Restore(ob.Open)
		for _, k := range p.Unresolved() {
			p.Resolve(k, 0)
		}
		p.Close(1 << 50)
	})
}

// FuzzSource: whatever a repartition record's evctl-src header holds, reading it never panics,
// and what it accepts prints back to the same partition and offset.
func FuzzSource(f *testing.F) {
	f.Add([]byte("3:12345"))
	f.Add([]byte(":"))
	f.Add([]byte("-1:-9"))
	f.Add([]byte("99999999999:1"))
	f.Fuzz(func(t *testing.T, v []byte) {
		rec := &worker.Record{Record: &kgo.Record{Headers: []kgo.RecordHeader{{Key: HeaderSource, Value: v}}}}
		p, o, err := source(rec)
		if err != nil {
			return
		}
		again, o2, err := source(&worker.Record{Record: &kgo.Record{Headers: []kgo.RecordHeader{
			{Key: HeaderSource, Value: []byte(fmt.Sprintf("%d:%d", p, o))}}}})
		if err != nil || again != p || o2 != o {
			t.Fatalf("%q read as %d:%d, which reads back as %d:%d (%v)", v, p, o, again, o2, err)
		}
	})
}
