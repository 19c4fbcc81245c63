package clickhouse_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink"
	chsink "github.com/evctl/evctl/pkg/control/sink/clickhouse"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chtest"
	ingest "github.com/evctl/evctl/pkg/data/ingest/clickhouse"
)

// benchRows is one batch (the ingest max_rows of a busy event).
const benchRows = 100_000

// BenchmarkInsert writes batches of 600-byte events into a local server: "writer" through
// Writer.Write (bookkeeping columns, the batch record, one INSERT per month), "clickhouse-client"
// the same rows as JSONEachRow through the server's own client. Each op is one batch; rows/s is
// reported.
func BenchmarkInsert(b *testing.B) {
	srv := chtest.Start(b)
	ctx := context.Background()
	md := viewedMessage()
	c, err := chhttp.New(srv.URL, "", "")
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"writer", "client"} {
		createTable(b, srv.URL, "bench_"+name)
	}
	enc, err := ingest.NewEncoder(md, typemap.CHFeaturesFor("18.16"))
	if err != nil {
		b.Fatal(err)
	}
	jenc, err := typemap.NewCHRowEncoder(md, typemap.CHFeaturesFor("18.16"))
	if err != nil {
		b.Fatal(err)
	}
	pad := strings.Repeat("x", 467) // rows of about 600 bytes of JSON
	rows := make([]ingest.Row, benchRows)
	jsonRows := make([][]byte, benchRows)
	size := 0
	for i := range rows {
		// One month: the 2-minute steps of event() wrap inside October for offsets below 720.
		m := event(md, int64(i%700), pad)
		r, err := enc.Row(m, int64(i))
		if err != nil {
			b.Fatal(err)
		}
		rows[i] = r
		if jsonRows[i], err = jenc.AppendRow(nil, m); err != nil {
			b.Fatal(err)
		}
		size += len(jsonRows[i])
	}
	b.Logf("row size: %d bytes of JSON on average", size/len(rows))
	cols := enc.Columns()

	next := int64(0) // offsets keep rising across the runs b.Run makes, or the writer would skip them
	b.Run("writer", func(b *testing.B) {
		w, err := ingest.New(ctx, c, "events")
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(size))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			batch := make([]ingest.Row, len(rows))
			for j, r := range rows {
				r.Offset = next + int64(j)
				batch[j] = r
			}
			res, err := w.Write(ctx, ingest.Batch{Table: "bench_writer", Columns: cols, Topic: "bench", Partition: 0, Rows: batch})
			if err != nil {
				b.Fatal(err)
			}
			if res.Written != benchRows {
				b.Fatalf("wrote %d rows of %d", res.Written, benchRows)
			}
			next += benchRows
		}
		b.ReportMetric(float64(b.N*benchRows)/b.Elapsed().Seconds(), "rows/s")
	})

	b.Run("clickhouse-client", func(b *testing.B) {
		bin, err := exec.LookPath("clickhouse-client")
		if err != nil {
			b.Fatal("clickhouse-client not found (scripts/install-tools.sh installs it)")
		}
		var body bytes.Buffer
		for i, j := range jsonRows {
			body.Write(j[:len(j)-1])
			fmt.Fprintf(&body, `,"_topic":"bench","_partition":0,"_offset":%d}`+"\n", i)
		}
		file := filepath.Join(b.TempDir(), "rows.json")
		if err := os.WriteFile(file, body.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		host, port, _ := strings.Cut(srv.TCPAddr, ":")
		b.SetBytes(int64(size))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			in, err := os.Open(file)
			if err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command(bin, "--host", host, "--port", port, "--query", "INSERT INTO events.bench_client FORMAT JSONEachRow")
			cmd.Stdin = in
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("clickhouse-client: %v: %s", err, out)
			}
			in.Close()
		}
		b.ReportMetric(float64(b.N*benchRows)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkEncode is the encoder alone: a decoded event to its JSONEachRow row.
func BenchmarkEncode(b *testing.B) {
	md := viewedMessage()
	enc, err := ingest.NewEncoder(md, typemap.CHFeaturesFor("18.16"))
	if err != nil {
		b.Fatal(err)
	}
	m := event(md, 5, strings.Repeat("x", 467))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := enc.Row(m, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func createTable(b *testing.B, url, name string) {
	conn, err := chsink.NewConn(url, "events", "", "")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := conn.Features(ctx); err != nil {
		b.Fatal(err)
	}
	ev := &contract.Event{Name: "profile_viewed", Domain: "identity", Sinks: contract.Sinks{ClickHouse: &contract.ClickHouseSink{}}}
	ts, err := chsink.NewTableSpec(ev, viewedMessage(), "events", name)
	if err != nil {
		b.Fatal(err)
	}
	d := sink.Desired{Kind: chsink.KindTable, Name: ts.ID(), Spec: ts}
	if err := chsink.NewTableSink(conn).Apply(ctx, sink.Change{Kind: chsink.KindTable, Name: ts.ID(), Action: sink.Create, Desired: &d}); err != nil {
		b.Fatal(err)
	}
}
