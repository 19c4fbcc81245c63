package compile_test

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// TestRequiredCarriesProtovalidateRule checks on the sample catalog that every required field
// evctl writes (form-path fields and injected platform fields; a raw proto's own fields are the
// author's) carries both evctl's option and protovalidate's required rule, readable by
// protovalidate's own generated types, and that no nullable field carries either.
func TestRequiredCarriesProtovalidateRule(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	ws, err := workspace.Open(filepath.Join(filepath.Dir(file), "..", "..", "..", "evctl.yaml"), "")
	if err != nil {
		t.Fatal(err)
	}
	rep := lint.Check(context.Background(), ws, lint.Options{SkipGenFresh: true})
	if rep.Diags.HasErrors() {
		t.Fatalf("sample catalog does not lint: %v", rep.Diags)
	}
	required, nullable := 0, 0
	for id, md := range rep.Compiled.Messages {
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if ws.Event(id).Schema.Proto != nil && !evoptions.FieldPlatform(fd) {
				continue
			}
			b, err := proto.Marshal(fd.Options())
			if err != nil {
				t.Fatal(err)
			}
			opts := &descriptorpb.FieldOptions{}
			if err := proto.Unmarshal(b, opts); err != nil {
				t.Fatal(err)
			}
			rules := proto.GetExtension(opts, validatepb.E_Field).(*validatepb.FieldRules)
			if evoptions.FieldRequired(fd) != rules.GetRequired() {
				t.Errorf("%s.%s: evctl required=%v, protovalidate required=%v", id, fd.Name(), evoptions.FieldRequired(fd), rules.GetRequired())
			}
			if rules.GetRequired() {
				required++
			} else {
				nullable++
			}
		}
	}
	if required == 0 || nullable == 0 {
		t.Fatalf("want both required and nullable fields in the sample catalog, got %d and %d", required, nullable)
	}
}
