package bigquery

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/typemap"
)

// EncodeRow exposes the row conversion to the tests: it returns the row as a message of the
// row descriptor.
func EncodeRow(schema []typemap.BQField, ev protoreflect.Message) (protoreflect.MessageDescriptor, []byte, error) {
	rt, err := newRowType(schema)
	if err != nil {
		return nil, nil, err
	}
	b, err := rt.encode(ev)
	return rt.md, b, err
}

// SetLoadHook makes h call f at the crash points of a load ("manifest", "done").
func SetLoadHook(h *BatchHandler, f func(point string)) { h.hook = f }

// DecodeManifest exposes the manifest reader to the fuzz target: the job ID, files and offsets.
func DecodeManifest(b []byte) (string, []string, map[int32][2]int64, error) {
	m, err := decodeManifest(b)
	if err != nil {
		return "", nil, nil, err
	}
	offs := map[int32][2]int64{}
	for p, r := range m.Offsets {
		offs[p] = [2]int64{r.First, r.Next}
	}
	return m.JobID, m.Files, offs, nil
}
