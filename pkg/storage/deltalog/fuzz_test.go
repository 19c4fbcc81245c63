package deltalog

import (
	"os"
	"path/filepath"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"testing"
)

// fuzzGoldenDir holds the repository copy of the Delta project's golden tables.
const fuzzGoldenDir = "../../../testdata/delta-golden"

// FuzzParseCommit: any bytes a writer left in _delta_log parse to actions or an error, never a
// panic. Seeds are the golden tables' real commits.
func FuzzParseCommit(f *testing.F) {
	logs, err := filepath.Glob(filepath.Join(fuzzGoldenDir, "*", "_delta_log", "*.json"))
	if err != nil || len(logs) == 0 {
		f.Fatalf("no golden commits under %s (err %v): the seeds are part of the repository", fuzzGoldenDir, err)
	}
	for _, p := range logs {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}` + "\n"))
	f.Add([]byte(`{"metaData":{"id":"x","format":{"provider":"parquet"},"schemaString":"{}","partitionColumns":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		actions, err := ParseCommit(data)
		if err != nil {
			return
		}
		// What parses must survive a write and a second read unchanged: the writer and the reader
		// agree on every action the reader accepts.
		enc, err := EncodeCommit(actions)
		if err != nil {
			if len(actions) == 0 {
				return
			}
			t.Fatalf("parsed %d actions that do not encode: %v", len(actions), err)
		}
		again, err := ParseCommit(enc)
		if err != nil {
			t.Fatalf("re-parse of an encoded commit: %v\n%s", err, enc)
		}
		if !cmp.Equal(actions, again, cmpopts.EquateEmpty()) {
			t.Fatalf("round trip changed the actions:\n%s", cmp.Diff(actions, again, cmpopts.EquateEmpty()))
		}
	})
}

// FuzzRetention: any delta.deletedFileRetentionDuration value parses to a non-negative
// retention (the default when it cannot be read), never a panic.
func FuzzRetention(f *testing.F) {
	for _, s := range []string{"interval 1 week", "interval 36 hours", "interval 0 days", "7 days", "interval -1 day", "interval 99999999999 weeks", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := retention(map[string]string{"delta.deletedFileRetentionDuration": s})
		if d < 0 {
			t.Fatalf("retention(%q) = %v, negative", s, d)
		}
	})
}
