package deltalog

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseCommit: any bytes a writer left in _delta_log parse to actions or an error, never a
// panic. Seeds are the golden tables' real commits.
func FuzzParseCommit(f *testing.F) {
	logs, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "testdata", "delta-golden", "*", "_delta_log", "*.json"))
	for _, p := range logs {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}` + "\n"))
	f.Add([]byte(`{"metaData":{"id":"x","format":{"provider":"parquet"},"schemaString":"{}","partitionColumns":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		actions, err := ParseCommit(data)
		if err == nil && actions == nil && len(data) > 0 {
			// An empty commit is fine; a nil slice without error must mean no lines.
			for _, c := range data {
				if c != '\n' && c != ' ' && c != '\r' && c != '\t' {
					return
				}
			}
		}
	})
}
