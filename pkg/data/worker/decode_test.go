package worker_test

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/evctl/evctl/pkg/data/worker"
)

// TestDecodeRuntimePanicIsRecordError: dynamicpb panics on a Struct map entry whose key has the
// wrong wire type (FuzzHandle of the Delta writer found it); Decode must refuse the record.
func TestDecodeRuntimePanicIsRecordError(t *testing.T) {
	rec := &worker.Record{Record: &kgo.Record{Value: []byte("\n\x0e\n\x010\b0100000000")},
		Schema: &worker.Schema{Message: (&structpb.Struct{}).ProtoReflect().Descriptor()}}
	m, err := rec.Decode()
	var re *worker.RecordError
	if !errors.As(err, &re) || m != nil {
		t.Fatalf("Decode = %v, %v; want a RecordError", m, err)
	}
	good := &worker.Record{Record: &kgo.Record{Value: []byte("\n\x05\n\x01k\x12\x00")}, Schema: rec.Schema}
	if m, err := good.Decode(); err != nil || m == nil {
		t.Fatalf("Decode of a valid Struct = %v, %v", m, err)
	}
}
