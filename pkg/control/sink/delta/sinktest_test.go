package delta_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/control/sink/sinktest"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// TestConformance runs the shared sink suite on Delta tables on disk (file://). Changes by hand
// are commits another writer makes to the log.
func TestConformance(t *testing.T) {
	store := fileStore(t)
	md := message(t, `message M { optional int64 a = 1; }`)
	rel := func(n int) string { return fmt.Sprintf("suite/e%d_v1", n) }
	table := func(t *testing.T, n int) sink.Desired {
		spec, err := delta.NewTableSpec(fmt.Sprintf("suite/e%d", n), "staging", md, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sink.NewDesired(spec.Event, delta.Kind, delta.TableName(base, rel(n)), spec.Stage, spec, nil)
	}
	relOf := func(d sink.Desired) string { return strings.TrimPrefix(d.Name, base+"/") }
	s := newSink(store)
	sinktest.Run(t, sinktest.Case{
		Sink: s,
		New:  table,
		// Another writer changed column a's type.
		Drift: func(t *testing.T, d sink.Desired) {
			loc := relOf(d)
			v := latest(t, store, loc)
			handCommit(t, store, loc, v+1, metaAt(t, store, loc, func(m *deltalog.Metadata) {
				m.SchemaString = `{"type":"struct","fields":[{"name":"a","type":"string","nullable":true,"metadata":{}}]}`
			}))
		},
		// A file sits where the table's directory must go: its log cannot be written.
		Bad: func(t *testing.T, n int) (sink.Desired, func(*testing.T)) {
			return table(t, n), func(t *testing.T) {
				if _, err := store.Put(t.Context(), rel(n), []byte("not a directory"), blob.PutOpts{}); err != nil {
					t.Fatal(err)
				}
			}
		},
		// A table evctl created once whose ownership mark another writer removed: not evctl's.
		Foreign: func(t *testing.T, n int) sink.Desired {
			d := table(t, n)
			cs := sinktest.Plan(t, s, d)
			if err := s.Apply(t.Context(), cs[0]); err != nil {
				t.Fatal(err)
			}
			handCommit(t, store, rel(n), 1, metaAt(t, store, rel(n), func(m *deltalog.Metadata) { delete(m.Configuration, delta.ManagedKey) }))
			return d
		},
	})
}

// latest is the table's current version.
func latest(t *testing.T, store blob.Store, loc string) int64 {
	t.Helper()
	snap, err := deltalog.Read(t.Context(), store, loc)
	if err != nil {
		t.Fatal(err)
	}
	return snap.Version
}

// metaAt is the table's metaData action at loc, changed by mutate.
func metaAt(t *testing.T, store blob.Store, loc string, mutate func(*deltalog.Metadata)) deltalog.Action {
	t.Helper()
	snap, err := deltalog.Read(t.Context(), store, loc)
	if err != nil {
		t.Fatal(err)
	}
	md := snap.Metadata
	md.Configuration = map[string]string{}
	for k, v := range snap.Metadata.Configuration {
		md.Configuration[k] = v
	}
	mutate(&md)
	return deltalog.Action{MetaData: &md}
}
