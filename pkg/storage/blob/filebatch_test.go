package blob_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// CreateAll creates every missing object create-only, reports the existing ones as
// ErrPrecondition (leaving them alone), refuses bad keys, and leaves no temporary files.
func TestFileCreateAll(t *testing.T) {
	dir := t.TempDir()
	s, err := blob.Open(t.Context(), "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "sets/b.binpb", []byte("old"), blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	bc, ok := s.(blob.BatchCreator)
	if !ok {
		t.Fatal("the file store is not a BatchCreator")
	}
	var objs []blob.Object
	for i := range 100 {
		objs = append(objs, blob.Object{Key: fmt.Sprintf("sets/%03d.binpb", i), Data: []byte(fmt.Sprint("set ", i))})
	}
	objs = append(objs, blob.Object{Key: "sets/b.binpb", Data: []byte("new")}, blob.Object{Key: "sets/../x", Data: []byte("x")})
	errs := bc.CreateAll(t.Context(), objs)
	if len(errs) != len(objs) {
		t.Fatalf("%d errors for %d objects", len(errs), len(objs))
	}
	for i := range 100 {
		if errs[i] != nil {
			t.Fatalf("%s: %v", objs[i].Key, errs[i])
		}
		b, _, err := s.Get(t.Context(), objs[i].Key)
		if err != nil || string(b) != string(objs[i].Data) {
			t.Fatalf("%s reads back %q, %v", objs[i].Key, b, err)
		}
	}
	if !errors.Is(errs[100], blob.ErrPrecondition) {
		t.Fatalf("existing object: %v, want ErrPrecondition", errs[100])
	}
	if b, _, _ := s.Get(t.Context(), "sets/b.binpb"); string(b) != "old" {
		t.Fatalf("existing object overwritten: %q", b)
	}
	if errs[101] == nil || !strings.Contains(errs[101].Error(), "sets/../x") {
		t.Fatalf("bad key: %v", errs[101])
	}
	ents, err := os.ReadDir(filepath.Join(dir, "sets"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && e.Name() != ".lock" {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
	if len(ents) < 101 {
		t.Fatalf("%d files in sets/, want 101", len(ents))
	}
}
