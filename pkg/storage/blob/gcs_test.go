package blob_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/blob/blobtest"
)

func TestGCSConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		blobtest.FakeGCS(t, "evctl-test")
		s, err := blob.Open(t.Context(), "gs://evctl-test/some/prefix")
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestGCSPrefixIsolation checks that keys live under the URL's prefix and that a store sees
// nothing outside it.
func TestGCSPrefixIsolation(t *testing.T) {
	srv := blobtest.FakeGCS(t, "b")
	ctx := t.Context()
	a, err := blob.Open(ctx, "gs://b/a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	root, err := blob.Open(ctx, "gs://b")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := a.Put(ctx, "x/y.json", []byte("1"), blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Put(ctx, "ab", []byte("2"), blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.GetObject("b", "a/x/y.json"); err != nil {
		t.Errorf("object not at a/x/y.json in the bucket: %v", err)
	}
	keys, err := a.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "x/y.json" {
		t.Errorf("list under prefix a = %q, want [x/y.json]", keys)
	}
}

func TestGCSOpenErrors(t *testing.T) {
	for _, url := range []string{"gs://", "gs:///prefix", "gs://b/../x", "s3://b/x", "no-scheme", "file://"} {
		if s, err := blob.Open(t.Context(), url); err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", url)
		}
	}
}

// TestGCSUnreachable points the client at a closed port: every call must fail with an error
// naming the store, within the caller's deadline, and never look like a missing object.
func TestGCSUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", "http://"+addr)

	s, err := blob.Open(t.Context(), "gs://evctl-down/state")
	if err != nil {
		t.Fatalf("open does no I/O, yet: %v", err)
	}
	defer s.Close()
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"get", func(ctx context.Context) error { _, _, err := s.Get(ctx, "k"); return err }},
		{"put", func(ctx context.Context) error {
			_, err := s.Put(ctx, "k", nil, blob.PutOpts{IfNotExist: true})
			return err
		}},
		{"delete", func(ctx context.Context) error { return s.Delete(ctx, "k", "") }},
		{"list", func(ctx context.Context) error { _, err := s.List(ctx, ""); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			err := c.call(ctx)
			if err == nil {
				t.Fatal("no error from an unreachable server")
			}
			if errors.Is(err, blob.ErrNotExist) || errors.Is(err, blob.ErrPrecondition) {
				t.Errorf("error %v looks like an answer from the server", err)
			}
			if !strings.Contains(err.Error(), "gs://evctl-down/state") {
				t.Errorf("error %q does not name the store", err)
			}
			t.Log(err)
		})
	}
}
