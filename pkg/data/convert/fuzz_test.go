package convert

import (
	"testing"
)

// FuzzConvert holds the converter to protojson (+ dynamicpb, platform fields and required
// fields) on arbitrary input: both accept with proto.Equal results, or both reject. The seed
// corpus is testdata/fuzz/FuzzConvert plus every differential case.
func FuzzConvert(f *testing.F) {
	for _, in := range allTypesInputs {
		f.Add([]byte(in))
	}
	for _, in := range eventInputs {
		f.Add([]byte(in))
	}
	for _, in := range fastNumberInputs {
		f.Add([]byte(in))
	}
	f.Add([]byte(BenchEvent))
	fd := allTypes(f)
	var plans []*Plan
	for _, name := range []string{"All", "Event"} {
		for _, drop := range []bool{false, true} {
			p, err := Compile(message(f, fd, name), testOpts(drop))
			if err != nil {
				f.Fatal(err)
			}
			plans = append(plans, p)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, p := range plans {
			if d := differ(p, in); d != "" {
				t.Fatalf("%s drop=%v %q\n%s", p.Descriptor().Name(), p.opts.DropUnknown, in, d)
			}
		}
	})
}
