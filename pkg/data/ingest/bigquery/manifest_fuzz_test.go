package bigquery_test

import (
	"testing"

	"github.com/evctl/evctl/pkg/data/ingest/bigquery"
)

// FuzzDecodeManifest: a load manifest read from the staging bucket never panics the reader, and
// one it accepts names an evctl load job, files, and offset ranges that are ranges (a restart
// resumes at their Next, so a negative or backward range must never get through).
func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(`{"job_id":"evctl_load_0a","table":"p.d.t","topic":"t","files":["g/t/a.parquet"],"offsets":{"0":{"first":0,"next":10},"1":{"first":5,"next":6}}}`))
	f.Add([]byte(`{"job_id":"evctl_load_0a","files":["x"],"offsets":{"0":{"first":10,"next":10}}}`))
	f.Add([]byte(`{"job_id":"other","files":["x"],"offsets":{"-1":{"first":-5,"next":3}}}`))
	f.Add([]byte(`{"offsets":{"x":{}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, files, offs, err := bigquery.DecodeManifest(b)
		if err != nil {
			return
		}
		if len(id) < len("evctl_load_") || id[:len("evctl_load_")] != "evctl_load_" || len(files) == 0 || len(offs) == 0 {
			t.Fatalf("accepted %q: job %q, %d files, %d partitions", b, id, len(files), len(offs))
		}
		for p, r := range offs {
			if p < 0 || r[0] < 0 || r[1] <= r[0] {
				t.Fatalf("accepted %q: partition %d range %v", b, p, r)
			}
		}
	})
}
