package convert

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
)

// testOpts fills platform fields deterministically, so both paths produce the same values.
func testOpts(drop bool) Options {
	return Options{
		DropUnknown: drop,
		Now:         func() time.Time { return time.Unix(1767225600, 123456789) },
		NewID:       func() (uuid.UUID, error) { return uuid.MustParse("01890a5d-ac96-774b-bcce-b302099a8057"), nil },
	}
}

// allTypes compiles testdata/alltypes.proto.
func allTypes(tb testing.TB) protoreflect.FileDescriptor {
	tb.Helper()
	src, err := os.ReadFile("testdata/alltypes.proto")
	if err != nil {
		tb.Fatal(err)
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{
			"alltypes.proto":      string(src),
			evoptions.DateFile:    mustSource(tb, evoptions.DateFile),
			evoptions.OptionsFile: mustSource(tb, evoptions.OptionsFile),
		}),
	})}
	files, err := c.Compile(context.Background(), "alltypes.proto")
	if err != nil {
		tb.Fatal(err)
	}
	return files[0]
}

func mustSource(tb testing.TB, path string) string {
	b, ok := evoptions.Source(path)
	if !ok {
		tb.Fatalf("no embedded %s", path)
	}
	return string(b)
}

func message(tb testing.TB, fd protoreflect.FileDescriptor, name string) protoreflect.MessageDescriptor {
	md := fd.Messages().ByName(protoreflect.Name(name))
	if md == nil {
		tb.Fatalf("no message %s", name)
	}
	return md
}

// reference is the oracle: protojson into dynamicpb, platform fields, required fields.
func reference(md protoreflect.MessageDescriptor, src []byte, opts Options) (proto.Message, error) {
	m := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: opts.DropUnknown}).Unmarshal(src, m); err != nil {
		return nil, err
	}
	if err := fillPlatform(m, opts); err != nil {
		return nil, err
	}
	if p := evoptions.MissingRequired(m); p != "" {
		return nil, &Error{Field: p, Message: "required field is missing"}
	}
	// protojson takes any number for an open (proto3) enum; a contract lists its values.
	if p, _ := UndefinedEnum(m); p != "" {
		return nil, &Error{Field: p, Message: "enum number not defined"}
	}
	// Round-trip through the wire so both sides compare as decoded messages.
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := dynamicpb.NewMessage(md)
	return out, proto.Unmarshal(b, out)
}

// fast converts with the plan and decodes the result.
func fast(p *Plan, src []byte) (proto.Message, []byte, error) {
	b, err := p.Append(nil, src)
	if err != nil {
		return nil, nil, err
	}
	out := dynamicpb.NewMessage(p.Descriptor())
	if err := proto.Unmarshal(b, out); err != nil {
		return nil, b, err
	}
	return out, b, nil
}

// differ compares the two paths on one input; it returns "" when they agree.
func differ(p *Plan, src []byte) string {
	want, werr := reference(p.Descriptor(), src, p.opts)
	got, raw, gerr := fast(p, src)
	if e, ok := gerr.(*Error); ok && e.Limit {
		return "" // a deliberate limit protojson does not have
	}
	switch {
	case werr != nil && gerr != nil:
		return ""
	case werr != nil:
		return "protojson rejects (" + werr.Error() + ") but convert accepts: " + protojson.Format(got)
	case gerr != nil:
		return "convert rejects (" + gerr.Error() + ") but protojson accepts: " + protojson.Format(want)
	case !proto.Equal(want, got):
		return "different messages:\nprotojson: " + protojson.Format(want) + "\nconvert:   " + protojson.Format(got) + "\nwire: " + string(raw)
	}
	return ""
}
