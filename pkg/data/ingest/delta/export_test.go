package delta

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go"
	"google.golang.org/protobuf/reflect/protoreflect"

	sinkdelta "github.com/evctl/evctl/pkg/control/sink/delta"
)

// FlatEvent is the ingest benchmark's 25-field event, for the external tests.
const FlatEvent = flatEvent

// ShredPaths shreds values of one message with the shredder's inline conversions and with the
// generic path only, to compare them.
type ShredPaths struct {
	fast, generic *shredder
	ncols         int
}

// NewShredPaths binds md to the table pkg/control/sink/delta makes for it, partitioned by
// event_date.
func NewShredPaths(md protoreflect.MessageDescriptor) (*ShredPaths, error) {
	spec, err := sinkdelta.NewTableSpec("t/e", "prod", md, []string{eventDate})
	if err != nil {
		return nil, err
	}
	l, err := newLayout(spec.Schema, "", spec.PartitionColumns, md, nil)
	if err != nil {
		return nil, err
	}
	g := l.newShredder()
	g.generic = true
	return &ShredPaths{fast: l.newShredder(), generic: g, ncols: l.ncols}, nil
}

// Compare shreds value both ways (after prev, to check that a refused record leaves earlier
// rows alone) and describes the first difference in partition values, column values (with
// their levels) or errors; "" when they agree. It also returns the error both paths gave.
func (p *ShredPaths) Compare(prev, value []byte) (string, error) {
	run := func(s *shredder) ([]string, [][]parquet.Value, error) {
		cols := make([][]parquet.Value, p.ncols)
		var parts []string
		var err error
		for _, v := range [][]byte{prev, value} {
			if parts, err = s.start(v, parts); err == nil {
				err = s.into(cols)
			}
		}
		return parts, cols, err
	}
	fp, fc, ferr := run(p.fast)
	gp, gc, gerr := run(p.generic)
	switch {
	case (ferr == nil) != (gerr == nil) || ferr != nil && ferr.Error() != gerr.Error():
		return fmt.Sprintf("errors differ: inline %v, generic %v", ferr, gerr), gerr
	case ferr == nil && !slices.Equal(fp, gp):
		return fmt.Sprintf("partition values differ: inline %q, generic %q", fp, gp), nil
	}
	for c := range fc {
		if len(fc[c]) != len(gc[c]) {
			return fmt.Sprintf("column %d: inline %d values, generic %d", c, len(fc[c]), len(gc[c])), gerr
		}
		for i, v := range fc[c] {
			w := gc[c][i]
			if !bytes.Equal(v.Bytes(), w.Bytes()) || v.Kind() != w.Kind() || v.IsNull() != w.IsNull() || v.RepetitionLevel() != w.RepetitionLevel() ||
				v.DefinitionLevel() != w.DefinitionLevel() || v.Column() != w.Column() {
				return fmt.Sprintf("column %d value %d: inline %v (r%d d%d c%d), generic %v (r%d d%d c%d)", c, i,
					v, v.RepetitionLevel(), v.DefinitionLevel(), v.Column(), w, w.RepetitionLevel(), w.DefinitionLevel(), w.Column()), gerr
			}
		}
	}
	return "", gerr
}

// FlatValues are n events of FlatEvent with random values like the ingest benchmark's.
func FlatValues(n int) [][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	out := make([][]byte, n)
	for i := range out {
		out[i] = randomFlatValue(rng, i, time.Unix(1_780_000_000+int64(i), int64(i)*1000))
	}
	return out
}
