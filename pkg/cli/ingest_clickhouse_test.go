package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/cli"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chtest"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// TestIngestClickHouseCLI: apply creates the ClickHouse table and its view on a real
// clickhouse-server, events posted to the gateway reach kfake, and `evctl ingest --sink
// clickhouse` writes each once into the table (count and uniqExact(event_id)), the view counts
// them, and a corrupt record lands on the dead-letter topic. Started again without --sink (the
// default: every sink the environment configures), it resumes where the table says and writes
// new events once more, none twice.
func TestIngestClickHouseCLI(t *testing.T) {
	e := newPAEnv(t)
	srv := chtest.Start(t)
	e.vars["EVCTL_CH_USER"] = "default"
	chCfg := fmt.Sprintf("    clickhouse: {url: %q, user_env: EVCTL_CH_USER}\n    credentials_dir:", srv.URL)
	e.writeFile("evctl.yaml", strings.Replace(fmt.Sprintf(paConfig, e.kc.Addrs[0]), "    credentials_dir:", chCfg, 1))
	ev := strings.Replace(paEvent("item_clicked", "1d"), "retention: 1d}\n", `retention: 1d}
  clickhouse:
    views:
      - name: daily
        group_by: [{day: event_time}]
        measures: {clicks: count}
`, 1)
	e.writeFile("contracts/feed/item_clicked.yaml", ev+"ingestion: {mode: streaming, flush: 200ms}\n")
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")

	url := e.startGateway()
	const sent = 25
	post := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			body := fmt.Sprintf(`{"item_id":"item-%02d","event_time":"2026-11-0%dT10:00:00Z"}`, i, 1+i%2)
			resp, err := http.Post(url+"/v1/events/feed/item_clicked", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("gateway: %s", resp.Status)
			}
		}
	}
	post(0, sent)
	// A corrupt value under the published schema, as a broken producer would write it.
	idx, _, err := descstore.ReadIndex(context.Background(), e.descriptorStore())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(e.kafkaOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	hdr := []kgo.RecordHeader{{Key: descstore.HeaderEvent, Value: []byte("feed/item_clicked")},
		{Key: descstore.HeaderSchema, Value: []byte(idx.Events["feed/item_clicked"].SHA256)},
		{Key: descstore.HeaderContentType, Value: []byte(descstore.ContentType)}}
	if err := cl.ProduceSync(context.Background(),
		&kgo.Record{Topic: clickedTopic, Partition: 0, Value: []byte("\xff\xff not protobuf"), Headers: hdr}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		io := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
			Getenv: func(k string) string { return e.vars[k] }, WorkDir: e.dir}
		done <- cli.Run(ctx, io, []string{"ingest", "--env", "local", "--sink", "clickhouse"})
	}()
	ch, err := chhttp.New(srv.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	type counts struct{ N, U string }
	query := func() counts {
		rows, err := chhttp.QueryInto[counts](context.Background(), ch,
			"SELECT toString(count()) AS N, toString(uniqExact(event_id)) AS U FROM events.feed__item_clicked_v1")
		if err != nil || len(rows) != 1 {
			t.Fatalf("count: %v %v", rows, err)
		}
		return rows[0]
	}
	want := counts{N: fmt.Sprint(sent), U: fmt.Sprint(sent)}
	got := counts{}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if got = query(); got == want {
			break
		}
	}
	// Read the dead-letter topic while ingest still runs (it is written before the offset moves).
	dlqCl, err := kgo.NewClient(append(e.kafkaOpts(), kgo.ConsumeTopics(worker.DLQTopic(clickedTopic)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer dlqCl.Close()
	var dlq []*kgo.Record
	pctx, pcancel := context.WithTimeout(context.Background(), time.Minute)
	for len(dlq) < 1 && pctx.Err() == nil {
		dlqCl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { dlq = append(dlq, r) })
	}
	pcancel()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("evctl ingest exited %d\n%s", code, errOut.String())
	}
	if got != want {
		t.Fatalf("table has count %s, uniqExact(event_id) %s; want %d each\n%s", got.N, got.U, sent, errOut.String())
	}
	if got := query(); got != want {
		t.Errorf("after stopping: count %s, uniqExact %s; want %d each", got.N, got.U, sent)
	}
	views, err := chhttp.QueryInto[struct{ N string }](context.Background(), ch,
		"SELECT toString(countMerge(clicks)) AS N FROM events.feed__item_clicked_v1__daily")
	if err != nil || len(views) != 1 || views[0].N != fmt.Sprint(sent) {
		t.Errorf("view daily counts %v (%v), want %d", views, err, sent)
	}
	if len(dlq) != 1 {
		t.Fatalf("%d dead-letter records, want 1", len(dlq))
	}
	h := map[string]string{}
	for _, kv := range dlq[0].Headers {
		h[kv.Key] = string(kv.Value)
	}
	if h[worker.HeaderDLQWorker] != "ingest/clickhouse" || h[worker.HeaderDLQTopic] != clickedTopic || !strings.Contains(h[worker.HeaderDLQReason], "cannot parse") {
		t.Errorf("dead-letter headers %v: want worker ingest/clickhouse, topic %s, a reason saying it cannot be parsed", h, clickedTopic)
	}
	if !strings.Contains(errOut.String(), "group evctl.local.ingest.clickhouse") {
		t.Errorf("ingest did not print its group:\n%s", errOut.String())
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	var errOut2 syncBuffer
	go func() {
		io := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut2,
			Getenv: func(k string) string { return e.vars[k] }, WorkDir: e.dir}
		done <- cli.Run(ctx2, io, []string{"ingest", "--env", "local"})
	}()
	const more = 5
	post(sent, sent+more)
	want = counts{N: fmt.Sprint(sent + more), U: fmt.Sprint(sent + more)}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if got = query(); got == want {
			break
		}
	}
	cancel2()
	if code := <-done; code != 0 {
		t.Fatalf("evctl ingest (default sinks) exited %d\n%s", code, errOut2.String())
	}
	if got != want {
		t.Fatalf("after the restart: count %s, uniqExact(event_id) %s; want %d each\n%s", got.N, got.U, sent+more, errOut2.String())
	}
	if !strings.Contains(errOut2.String(), "ingest clickhouse: group evctl.local.ingest.clickhouse") {
		t.Errorf("ingest without --sink did not run the clickhouse sink:\n%s", errOut2.String())
	}

	// A password the server refuses: a clear failure that never shows the password.
	e.vars["EVCTL_CH_PASSWORD"] = "s3cret-never-shown"
	chCfg = fmt.Sprintf("    clickhouse: {url: %q, user_env: EVCTL_CH_USER, password_env: EVCTL_CH_PASSWORD}\n    credentials_dir:", srv.URL)
	e.writeFile("evctl.yaml", strings.Replace(fmt.Sprintf(paConfig, e.kc.Addrs[0]), "    credentials_dir:", chCfg, 1))
	code, stdout, stderr := e.run("ingest", "--env", "local", "--sink", "clickhouse")
	if code != 1 || !strings.Contains(stderr, "ingest: clickhouse "+srv.URL) || strings.Contains(stdout+stderr, "s3cret-never-shown") {
		t.Errorf("ingest with a refused password: want an error naming the server and not the password:\n%s%s", stdout, stderr)
	}
}
