package state_test

import (
	"path/filepath"
	"testing"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/blob/blobtest"
)

// onBackends runs test once per blob backend, each with a fresh, empty store.
func onBackends(t *testing.T, test func(t *testing.T, store blob.Store)) {
	backends := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"file", func(t *testing.T) string { return "file://" + filepath.ToSlash(t.TempDir()) }},
		{"gcs", func(t *testing.T) string {
			blobtest.FakeGCS(t, "evctl-state")
			return "gs://evctl-state/state"
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			store, err := blob.Open(t.Context(), b.url(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			test(t, store)
		})
	}
}
