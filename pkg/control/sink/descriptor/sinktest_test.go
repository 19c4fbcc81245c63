package descriptor_test

import (
	"fmt"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/sink/sinktest"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// TestConformance runs the shared sink suite on a file:// store and on fake-gcs-server.
func TestConformance(t *testing.T) {
	backends(t, func(t *testing.T, open func() blob.Store) {
		store := open()
		sinktest.Run(t, sinktest.Case{
			Sink: descriptor.New(store),
			New: func(t *testing.T, n int) sink.Desired {
				return want(fmt.Sprintf("suite/e%d", n), "prod", fmt.Appendf(nil, "set of e%d", n))
			},
			// Another publisher (or a person) republished the event as staging.
			Drift: func(t *testing.T, d sink.Desired) {
				err := descstore.UpdateIndex(testCtx(t), store, func(idx *descstore.Index) {
					e := idx.Events[d.Name]
					e.Stage = "staging"
					idx.Events[d.Name] = e
				})
				if err != nil {
					t.Fatal(err)
				}
			},
			// A set whose bytes do not hash to its name is refused; the other events publish.
			Bad: func(t *testing.T, n int) (sink.Desired, func(*testing.T)) {
				d := want(fmt.Sprintf("suite/bad%d", n), "prod", []byte("the set"))
				spec := d.Spec.(descriptor.Spec)
				spec.Set = []byte("other bytes")
				d.Spec = spec
				return d, nil
			},
			OwnsAll: true,
		})
	})
}
