package delta_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/data/ingest/delta"
)

// flatMessage compiles the ingest benchmark's event.
func flatMessage(t testing.TB) protoreflect.MessageDescriptor {
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: func(path string) (io.ReadCloser, error) {
			if path == "event.proto" {
				return io.NopCloser(strings.NewReader(delta.FlatEvent)), nil
			}
			if src, ok := evoptions.Source(path); ok {
				return io.NopCloser(bytes.NewReader(src)), nil
			}
			return nil, os.ErrNotExist
		}})}
	files, err := c.Compile(context.Background(), "event.proto")
	if err != nil {
		t.Fatal(err)
	}
	return files[0].Messages().ByName("Event")
}

// TestShredInlineMatchesGeneric: the shredder's inline conversions of top-level leaves give the
// same values, levels, partition values and errors as the generic path, for events of every
// type of the mapping (and of the benchmark's event), whole and with random bytes cut, flipped
// or dropped.
func TestShredInlineMatchesGeneric(t *testing.T) {
	md, _ := compile(t, "")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, m := range []protoreflect.MessageDescriptor{md, flatMessage(t)} {
		p, err := delta.NewShredPaths(m)
		if err != nil {
			t.Fatal(err)
		}
		var vals [][]byte
		if m == md {
			vals = values(t, md, 0, 300)
		} else {
			vals = delta.FlatValues(100)
		}
		ok := 0
		for i, v := range vals {
			prev := vals[(i+1)%len(vals)]
			if diff, err := p.Compare(prev, v); diff != "" {
				t.Fatalf("%s event %d: %s", m.FullName(), i, diff)
			} else if err == nil {
				ok++
			}
			for range 20 {
				b := mutate(rng, v)
				if diff, _ := p.Compare(prev, b); diff != "" {
					t.Fatalf("%s event %d mutated to %x: %s", m.FullName(), i, b, diff)
				}
			}
		}
		if ok != len(vals) {
			t.Fatalf("%s: %d of %d valid events shredded without error", m.FullName(), ok, len(vals))
		}
	}
}

func mutate(rng *rand.Rand, v []byte) []byte {
	b := bytes.Clone(v)
	if len(b) == 0 {
		return b
	}
	switch rng.IntN(3) {
	case 0:
		return b[:rng.IntN(len(b))]
	case 1:
		b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		return b
	}
	i := rng.IntN(len(b))
	return append(b[:i], b[i+1:]...)
}

// FuzzShredInline: for any bytes as a record of the all-types event, the inline and the generic
// shredding agree (values, levels, partition values, errors).
func FuzzShredInline(f *testing.F) {
	md, _ := compile(f, "")
	p, err := delta.NewShredPaths(md)
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		f.Add(value(f, md, i))
	}
	f.Add([]byte{0x0a, 0x80})
	prev := value(f, md, 100)
	f.Fuzz(func(t *testing.T, b []byte) {
		if diff, _ := p.Compare(prev, b); diff != "" {
			t.Fatalf("%x: %s", b, diff)
		}
	})
}
