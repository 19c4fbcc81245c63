package deltalog_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// goldenDir holds the Spark-written tables of the Delta project (see its README), copied into
// the repository so the tests are hermetic.
const goldenDir = "../../../testdata/delta-golden"

func golden(t *testing.T) blob.Store {
	t.Helper()
	if _, err := os.Stat(goldenDir); err != nil {
		t.Fatalf("golden tables missing (they are part of the repository): %v", err)
	}
	s, err := blob.Open(t.Context(), "file://"+goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lastSchemaString finds the newest metaData.schemaString in a table's JSON commits by plain
// decoding, independent of the package's replay.
func lastSchemaString(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "_delta_log", "*.json"))
	sort.Strings(files)
	var out string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var line map[string]json.RawMessage
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if md, ok := line["metaData"]; ok {
				var m struct{ SchemaString string }
				if err := json.Unmarshal(md, &m); err != nil {
					t.Fatal(err)
				}
				out = m.SchemaString
			}
		}
		fh.Close()
	}
	return out
}

func TestGoldenTables(t *testing.T) {
	store := golden(t)
	cases := []struct {
		table      string
		version    int64
		protocol   deltalog.Protocol
		partitions []string
		checkpoint int64
		mapping    string
		columns    int
	}{
		{"basic-decimal-table", 0, deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, []string{"part"}, -1, "none", 4},
		{"checkpoint", 14, deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, []string{}, 10, "none", 1},
		{"data-reader-array-primitives", 0, deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, []string{}, -1, "none", 0},
		{"data-reader-map", 0, deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, []string{}, -1, "none", 0},
		{"data-reader-nested-struct", 0, deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, []string{}, -1, "none", 0},
		{"data-reader-partition-values", 0, deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2},
			[]string{"as_int", "as_long", "as_byte", "as_short", "as_boolean", "as_float", "as_double", "as_string", "as_string_lit_null", "as_date", "as_timestamp", "as_big_decimal"}, -1, "none", 0},
		{"data-reader-primitives", 0, deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, []string{}, -1, "none", 0},
		{"table-with-columnmapping-mode-name", 0, deltalog.Protocol{MinReaderVersion: 2, MinWriterVersion: 5}, []string{}, -1, "name", 0},
		{"time-travel-schema-changes-b", 1, deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, []string{}, -1, "none", 2},
	}
	for _, c := range cases {
		t.Run(c.table, func(t *testing.T) {
			snap, err := deltalog.Read(t.Context(), store, c.table)
			if err != nil {
				t.Fatal(err)
			}
			if snap.Version != c.version {
				t.Errorf("version = %d, want %d", snap.Version, c.version)
			}
			if diff := cmp.Diff(c.protocol, snap.Protocol); diff != "" {
				t.Errorf("protocol (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.partitions, snap.Metadata.PartitionColumns); diff != "" {
				t.Errorf("partition columns (-want +got):\n%s", diff)
			}
			if snap.Checkpoint != c.checkpoint {
				t.Errorf("checkpoint = %d, want %d", snap.Checkpoint, c.checkpoint)
			}
			if snap.ColumnMapping != c.mapping {
				t.Errorf("column mapping = %q, want %q", snap.ColumnMapping, c.mapping)
			}
			want, err := typemap.ParseDeltaSchema(lastSchemaString(t, filepath.Join(goldenDir, c.table)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, snap.Schema); diff != "" {
				t.Errorf("schema (-want +got):\n%s", diff)
			}
			if c.columns > 0 && len(snap.Schema.Fields) != c.columns {
				t.Errorf("%d columns, want %d", len(snap.Schema.Fields), c.columns)
			}
		})
	}
}

func TestGoldenUnsupportedProtocol(t *testing.T) {
	_, err := deltalog.Read(t.Context(), golden(t), "deltalog-invalid-protocol-version")
	if !errors.Is(err, deltalog.ErrUnsupported) {
		t.Fatalf("error %v, want ErrUnsupported", err)
	}
	for _, want := range []string{"deltalog-invalid-protocol-version", "reader version 99"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestGoldenCheckpointMatchesReplay reads the checkpoint table three ways: as it is (checkpoint
// 10 plus commits 11-14), from the JSON commits alone (checkpoint removed), and from the
// checkpoint alone (commits 0-10 removed, as metadata cleanup does). All three must agree.
func TestGoldenCheckpointMatchesReplay(t *testing.T) {
	store := golden(t)
	full, err := deltalog.Read(t.Context(), store, "checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	jsonOnly := copyTable(t, filepath.Join(goldenDir, "checkpoint"), func(name string) bool {
		return !strings.Contains(name, "checkpoint")
	})
	fromJSON, err := deltalog.Read(t.Context(), jsonOnly, "")
	if err != nil {
		t.Fatal(err)
	}
	if fromJSON.Checkpoint != -1 {
		t.Fatalf("json-only replay used checkpoint %d", fromJSON.Checkpoint)
	}
	cleaned := copyTable(t, filepath.Join(goldenDir, "checkpoint"), func(name string) bool {
		return name >= "00000000000000000011.json" || strings.Contains(name, "checkpoint")
	})
	fromCkpt, err := deltalog.Read(t.Context(), cleaned, "")
	if err != nil {
		t.Fatal(err)
	}
	if fromCkpt.Checkpoint != 10 {
		t.Fatalf("cleaned log: checkpoint %d, want 10", fromCkpt.Checkpoint)
	}
	opts := cmp.FilterPath(func(p cmp.Path) bool {
		f := p.String()
		return f == "Checkpoint" || f == "Location"
	}, cmp.Ignore())
	if diff := cmp.Diff(fromJSON, full, opts); diff != "" {
		t.Errorf("checkpoint+commits differs from the JSON replay (-json +checkpoint):\n%s", diff)
	}
	if diff := cmp.Diff(fromJSON, fromCkpt, opts); diff != "" {
		t.Errorf("checkpoint-only log differs from the JSON replay (-json +checkpoint):\n%s", diff)
	}
	if full.NumFiles != 1 {
		t.Errorf("live files = %d, want 1", full.NumFiles)
	}
}

// copyTable copies the _delta_log files of a table dir whose names keep accepts into a new
// temporary store, with the log at the store's root table "".
func copyTable(t *testing.T, dir string, keep func(name string) bool) blob.Store {
	t.Helper()
	dst := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dst, "_delta_log"), 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "_delta_log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !keep(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "_delta_log", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, "_delta_log", e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := blob.Open(t.Context(), "file://"+dst)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
