package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/cli"
)

// TestIngestCLI: apply creates the Delta table, events posted to the gateway reach Kafka, and
// `evctl ingest` writes them into the table, where DuckDB reads them.
func TestIngestCLI(t *testing.T) {
	e := newPAEnv(t)
	cfg := strings.Replace(fmt.Sprintf(paConfig, e.kc.Addrs[0]), "    credentials_dir:", "    delta: {url: \"file://.evctl/lake\"}\n    credentials_dir:", 1)
	e.writeFile("evctl.yaml", cfg)
	ev := strings.Replace(paEvent("item_clicked", "1d"), "retention: 1d}\n", "retention: 1d}\n  delta: {partition_by: [event_date]}\n", 1)
	e.writeFile("contracts/feed/item_clicked.yaml", ev+"ingestion: {mode: streaming, flush: 200ms}\n")
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")
	url := e.startGateway()
	const sent = 20
	for i := range sent {
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
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		io := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
			Getenv: func(k string) string { return e.vars[k] }, WorkDir: e.dir}
		done <- cli.Run(ctx, io, []string{"ingest", "--env", "local", "--sink", "delta", "--event", "feed/item_clicked"})
	}()
	table := filepath.Join(e.dir, ".evctl", "lake", "feed", "item_clicked_v1")
	deadline := time.Now().Add(2 * time.Minute)
	count := ""
	for time.Now().Before(deadline) {
		if count = duckCount(t, table); count == fmt.Sprint(sent) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("evctl ingest exited %d\n%s", code, errOut.String())
	}
	if count != fmt.Sprint(sent) {
		t.Fatalf("DuckDB counted %s rows, want %d\n%s", count, sent, errOut.String())
	}
	out2, _ := e.mustRun(0, "compact", "feed/item_clicked", "--env", "local", "-o", "json")
	var res struct {
		Removed, Added int
		Rows           int64 `json:"rows_rewritten"`
	}
	if err := json.Unmarshal([]byte(out2), &res); err != nil {
		t.Fatalf("compact -o json: %v\n%s", err, out2)
	}
	if after := duckCount(t, table); after != count {
		t.Errorf("DuckDB counts %s rows after compact, %s before", after, count)
	}
	desc, _ := e.mustRun(0, "describe", "feed/item_clicked", "--env", "local", "--sample", "0", "-o", "json")
	var rep struct {
		Ingestion []struct {
			Sink           string
			Group          string
			Rows, Lag, DLQ int64
			Version        int64
			LastCommit     string `json:"last_commit"`
		}
	}
	if err := json.Unmarshal([]byte(desc), &rep); err != nil {
		t.Fatalf("describe -o json: %v", err)
	}
	if len(rep.Ingestion) != 1 || rep.Ingestion[0].Rows != sent || rep.Ingestion[0].Lag != 0 || rep.Ingestion[0].Group != "evctl.local.ingest.delta" ||
		rep.Ingestion[0].LastCommit == "" {
		t.Errorf("describe ingestion = %+v, want %d rows, lag 0, a last commit", rep.Ingestion, sent)
	}
	text, _ := e.mustRun(0, "describe", "feed/item_clicked", "--env", "local", "--sample", "0")
	if !strings.Contains(text, fmt.Sprintf("ingestion:  delta (group evctl.local.ingest.delta): version")) || !strings.Contains(text, fmt.Sprintf("%d rows, lag 0, dlq 0", sent)) {
		t.Errorf("describe text lacks the ingestion line:\n%s", text)
	}
	stOut, _ := e.mustRun(0, "status", "--env", "local", "-o", "json")
	var st struct {
		Ingestion []struct {
			Event          string
			Sink           string
			Rows, Lag, DLQ int64
			Version        int64
		}
	}
	if err := json.Unmarshal([]byte(stOut), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, stOut)
	}
	if len(st.Ingestion) != 1 || st.Ingestion[0].Event != "feed/item_clicked" || st.Ingestion[0].Rows != sent || st.Ingestion[0].Lag != 0 ||
		st.Ingestion[0].Version != rep.Ingestion[0].Version {
		t.Errorf("status ingestion = %+v, want feed/item_clicked with %d rows, lag 0, version %d", st.Ingestion, sent, rep.Ingestion[0].Version)
	}
	if stText, _ := e.mustRun(0, "status", "--env", "local"); !strings.Contains(stText, fmt.Sprintf("%d rows, lag 0, dlq 0", sent)) {
		t.Errorf("status text lacks the ingestion line:\n%s", stText)
	}
	if !strings.Contains(errOut.String(), "ingest metrics http://127.0.0.1:") || !strings.Contains(errOut.String(), "group evctl.local.ingest.delta") {
		t.Errorf("ingest did not print its group and metrics address:\n%s", errOut.String())
	}
}

// duckCount counts the rows of a Delta table with DuckDB ("" before the first commit).
func duckCount(t *testing.T, table string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(table, "_delta_log", "00000000000000000001.json")); err != nil {
		return ""
	}
	root, _ := filepath.Abs("../..")
	cmd := exec.Command("node", filepath.Join(root, "pkg/data/ingest/delta/testdata/readdelta.cjs"), table, "SELECT count(DISTINCT item_id) AS n FROM t")
	cmd.Env = append(os.Environ(), "DUCKDB_NODE_DIR="+filepath.Join(root, ".tools", "duckdb"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, stderr.String())
	}
	s := strings.TrimSpace(string(b))
	s = strings.TrimPrefix(strings.TrimSuffix(s, "}"), `{"n":`)
	return strings.Trim(s, `"`)
}
