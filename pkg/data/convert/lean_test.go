package convert

import (
	"bytes"
	"testing"
)

// TestLeanPlanConvertsTheSame: a plan compiled with Lean keeps no descriptor (when its fast path
// covers the message) and converts every input to the same bytes, or the same error, as one
// that keeps it; Size grows with the message.
func TestLeanPlanConvertsTheSame(t *testing.T) {
	fd := allTypes(t)
	sizes := map[string]int64{}
	for _, name := range []string{"All", "Event"} {
		md := message(t, fd, name)
		full, err := Compile(md, testOpts(false))
		if err != nil {
			t.Fatal(err)
		}
		lo := testOpts(false)
		lo.Lean = true
		lean, err := Compile(md, lo)
		if err != nil {
			t.Fatal(err)
		}
		if lean.fallback || lean.Descriptor() != nil || full.Descriptor() != md {
			t.Fatalf("%s: lean plan keeps its descriptor (fallback %v)", name, lean.fallback)
		}
		if lean.Size() != full.Size() || lean.Size() <= 0 {
			t.Fatalf("%s: sizes %d (lean) and %d", name, lean.Size(), full.Size())
		}
		sizes[name] = lean.Size()
		inputs := allTypesInputs
		if name == "Event" {
			inputs = eventInputs
		}
		for _, in := range inputs {
			want, werr := full.Append(nil, []byte(in))
			got, gerr := lean.Append(nil, []byte(in))
			if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() || !bytes.Equal(want, got) {
				t.Errorf("%s %s: lean %q %v, full %q %v", name, in, got, gerr, want, werr)
			}
		}
	}
	if fd.Messages().ByName("All").Fields().Len() > fd.Messages().ByName("Event").Fields().Len() && sizes["All"] <= sizes["Event"] {
		t.Errorf("All (more fields) sized %d, Event %d", sizes["All"], sizes["Event"])
	}
}
