package embedded_test

import (
	"context"
	"errors"
	"testing"

	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/counterstore/embedded"
	"github.com/evctl/evctl/pkg/data/counterstore/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) counterstore.Store {
		s, err := embedded.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestValuesSurviveReopen: what was applied is on disk after Close, and the fence with it.
func TestValuesSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Apply(ctx, counterstore.Batch{Scope: "g/t/0", Prev: -1, Offset: 41, Outbox: []byte("o"),
		Increments: []counterstore.Increment{{Counter: "c", Key: "k", Delta: 12}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, _ := s.Get(ctx, "c", []string{"k"})
	f, _ := s.Fence(ctx, "g/t/0")
	if v[0] != 12 || f.Offset != 41 || string(f.Outbox) != "o" {
		t.Fatalf("after reopen: value %d, fence %+v", v[0], f)
	}
}

// TestOneHolderAtATime: a second open of the same folder fails with ErrInUse (bbolt's file lock;
// within one process the lock is per open file, as between processes).
func TestOneHolderAtATime(t *testing.T) {
	dir := t.TempDir()
	s, err := embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := embedded.Open(dir); !errors.Is(err, counterstore.ErrInUse) {
		t.Fatalf("second open: %v, want ErrInUse", err)
	}
}
