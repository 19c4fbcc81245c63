package lint

import (
	"reflect"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

func sampleIndex() *incrIndexFile {
	h := func(c string) string { return strings.Repeat(c, 64) }
	shared := []incrSet{{Path: "google/protobuf/timestamp.proto", Blob: h("1")}, {Path: "evctl/options.proto", Blob: h("2")}}
	return &incrIndexFile{
		Version: incrVersion,
		Entries: map[string]*incrEntry{
			"contracts/feed/a.yaml": {
				Key: h("a"), Today: "2026-12-03",
				Deps:     []incrDep{{Path: "contracts/feed/a.proto", Sum: h("b")}, {Path: "contracts/feed/gone.proto"}},
				Diags:    diag.List{{Pos: diag.Pos{File: "contracts/feed/a.yaml", Line: 3, Col: -1}, Rule: "X", Severity: diag.Warning, Message: "ünïcode\nline"}},
				Event:    &incrEvent{Name: "a", Domain: "feed", Dir: "contracts/feed", File: "contracts/feed/a.yaml", Team: "t", Pod: "p", ProtoFile: "a.proto", Raw: true, Counters: []string{"c1", "c2"}},
				Compiled: true, Path: "feed/a.proto", Package: "events.feed.v1",
				Closure: append(append([]incrSet(nil), shared...), incrSet{Path: "feed/a.proto", Blob: h("c")}),
				Gen:     []incrGen{{Path: "feed/a.proto", Sum: h("d"), Blob: h("c")}, {Path: "evctl/options.proto", Sum: "not-a-hash"}},
				Symbols: []string{"events.feed.v1.A"}, Imports: []string{"google/protobuf/timestamp.proto", "evctl/options.proto"},
			},
			"contracts/feed/b.yaml": {
				Key: h("e"), Closure: append(append([]incrSet(nil), shared...), incrSet{Path: "feed/b.proto", Blob: h("f")}),
				Gen: []incrGen{{Path: "evctl/options.proto", Sum: "not-a-hash"}},
			},
			"contracts/feed/broken.yaml": {Key: "ABC"},
		},
		Imports:    map[string]string{"evctl/options.proto": h("2")},
		ImportSyms: map[string]incrSyms{"evctl/options.proto": {Package: "evctl.v1", Names: []string{"evctl.v1.stage"}}, "empty.proto": {}},
		Blobs:      map[string]blobLoc{h("1"): {Pack: "pack-1", Off: 0, Len: 10}, h("2"): {Pack: "pack-1", Off: 10, Len: 1 << 40}},
		Stats: map[string]workspace.FileStat{
			"contracts/feed/a.yaml":  {Size: 12, Mtime: 1_700_000_000_123_456_789, Mode: 0o644, Sum: h("a"), Ino: 1 << 40, Ctime: 1_700_000_000_999},
			"gen/proto/feed/a.proto": {Size: 0, Mtime: -5, Mode: 0, Sum: ""},
		},
		StatsTaken: 1_700_000_001_000_000_000,
	}
}

// TestIndexRoundTrip: the binary index decodes to exactly what was encoded, hashes, odd
// strings, negative numbers and empty lists included.
func TestIndexRoundTrip(t *testing.T) {
	idx := sampleIndex()
	got, err := decodeIndex(encodeIndex(idx))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, idx) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, idx)
	}
	empty := &incrIndexFile{Version: incrVersion, Entries: map[string]*incrEntry{}, Imports: map[string]string{}, ImportSyms: map[string]incrSyms{}, Blobs: map[string]blobLoc{}, Stats: map[string]workspace.FileStat{}}
	if got, err := decodeIndex(encodeIndex(empty)); err != nil || !reflect.DeepEqual(got, empty) {
		t.Fatalf("empty index: %+v, %v", got, err)
	}
}

// TestIndexTruncated: every prefix of a body and a body with bytes appended is rejected.
func TestIndexTruncated(t *testing.T) {
	body := encodeIndex(sampleIndex())
	for i := range body {
		if _, err := decodeIndex(body[:i]); err == nil {
			t.Fatalf("a body cut at %d of %d bytes decodes", i, len(body))
		}
	}
	if _, err := decodeIndex(append(body[:len(body):len(body)], 0)); err == nil {
		t.Fatal("a body with a byte appended decodes")
	}
}

// FuzzIncrIndexDecode feeds arbitrary bodies to the index decoder (the sha256 line in front of
// the index keeps these from it in practice, but a decoder must not trust its input): no
// panic, no huge allocation, and what decodes encodes back to a body that decodes the same.
func FuzzIncrIndexDecode(f *testing.F) {
	f.Add(encodeIndex(sampleIndex()))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		idx, err := decodeIndex(body)
		if err != nil {
			return
		}
		again, err := decodeIndex(encodeIndex(idx))
		if err != nil {
			t.Fatalf("a decoded index does not encode back: %v", err)
		}
		if !reflect.DeepEqual(again, idx) {
			t.Fatalf("re-encoded index differs")
		}
	})
}
