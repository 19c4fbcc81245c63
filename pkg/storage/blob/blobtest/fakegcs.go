package blobtest

import (
	"io"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// FakeGCS starts fake-gcs-server on a loopback port chosen by the kernel, creates the named
// buckets, points STORAGE_EMULATOR_HOST at it for the rest of the test (so the test must not
// be parallel), and stops it when the test ends. A server that cannot start fails the test.
func FakeGCS(t testing.TB, buckets ...string) *fakestorage.Server {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		Host:       "127.0.0.1",
		Port:       0,
		NoListener: false,
		Writer:     io.Discard,
	})
	if err != nil {
		t.Fatalf("start fake-gcs-server: %v", err)
	}
	t.Cleanup(srv.Stop)
	for _, b := range buckets {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	t.Setenv("STORAGE_EMULATOR_HOST", srv.URL())
	return srv
}
