package clickhouse_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chtest"
	ingest "github.com/evctl/evctl/pkg/data/ingest/clickhouse"
)

// The child mode: TestMain runs writeLoop instead of the tests when these are set.
const (
	envChildURL   = "EVCTL_CH_WRITER_URL"
	envChildUntil = "EVCTL_CH_WRITER_UNTIL"
	// envChildCrash makes the child kill itself (SIGKILL) right after the first month part of
	// its second batch landed, before the batch is recorded: the hardest moment to be killed.
	envChildCrash = "EVCTL_CH_WRITER_CRASH"
)

const (
	topic     = "local.identity.profile_viewed.v1"
	batchRows = 400
)

func TestMain(m *testing.M) {
	if url := os.Getenv(envChildURL); url != "" {
		until, _ := strconv.ParseInt(os.Getenv(envChildUntil), 10, 64)
		if err := writeLoop(url, until, os.Getenv(envChildCrash) != ""); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// writeLoop is a worker: resume from Positions, write batches of partition 0 up to until.
func writeLoop(url string, until int64, crash bool) error {
	ctx := context.Background()
	c, err := chhttp.New(url, "", "")
	if err != nil {
		return err
	}
	md := viewedMessage()
	w, err := ingest.New(ctx, c, "events")
	if err != nil {
		return err
	}
	enc, err := ingest.NewEncoder(md, typemap.CHFeaturesFor("18.16"))
	if err != nil {
		return err
	}
	pos, err := w.Positions(ctx, table, topic, []int32{0})
	if err != nil {
		return err
	}
	next := max(pos[0], 0)
	for batch := 0; next < until; batch++ {
		b := ingest.Batch{Table: table, Columns: enc.Columns(), Topic: topic, Partition: 0}
		for o := next; o < min(next+batchRows, until); o++ {
			r, err := enc.Row(event(md, o, ""), o)
			if err != nil {
				return err
			}
			b.Rows = append(b.Rows, r)
		}
		if crash && batch == 1 {
			return ingest.CrashAfterFirstPartForTest(ctx, w, b, func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) })
		}
		if _, err := w.Write(ctx, b); err != nil {
			return err
		}
		next = b.Rows[len(b.Rows)-1].Offset + 1
	}
	return nil
}

func child(t *testing.T, url string, until int64, crash bool) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildURL+"="+url, envChildUntil+"="+strconv.FormatInt(until, 10))
	if crash {
		cmd.Env = append(cmd.Env, envChildCrash+"=1")
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestKillDuringIngestWritesEachEventOnce kills writers (once at the worst moment, between a
// batch's month parts and its record; then at random moments from outside, kill -9) and
// restarts them; a plain SELECT then sees every event_id exactly once and the view counts each
// event once.
func TestKillDuringIngestWritesEachEventOnce(t *testing.T) {
	srv := chtest.Start(t)
	c, err := chhttp.New(srv.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	view := provision(t, srv.URL, viewedMessage())
	const total = 20_000

	// 1. A writer that dies after the first month part of its second batch landed.
	cmd := child(t, srv.URL, total, true)
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("crashing child: %v, want killed by SIGKILL", err)
	}
	partial := count(t, c, "SELECT count() AS n FROM events."+table)
	if partial <= batchRows || partial >= 2*batchRows {
		t.Fatalf("after the crash the table holds %d rows; want the first batch and part of the second", partial)
	}

	// 2. Writers killed from outside at moments of the scheduler's choosing.
	for i := 0; i < 4; i++ {
		cmd := child(t, srv.URL, total, false)
		time.Sleep(time.Duration(300+i*170) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	// 3. A last writer finishes.
	cmd = child(t, srv.URL, total, false)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("last writer: %v", err)
	}
	if n := count(t, c, "SELECT count() AS n FROM events."+table); n != total {
		t.Errorf("plain SELECT count() = %d, want %d", n, total)
	}
	if n := count(t, c, "SELECT uniqExact(event_id) AS n FROM events."+table); n != total {
		t.Errorf("distinct event_id = %d, want %d", n, total)
	}
	if n := count(t, c, "SELECT count() AS n FROM (SELECT event_id FROM events."+table+" GROUP BY event_id HAVING count() > 1)"); n != 0 {
		t.Errorf("%d event_ids appear more than once", n)
	}
	if n := count(t, c, "SELECT sum(views) AS n FROM ("+view.ReadSQL()+")"); n != total {
		t.Errorf("the view counts %d events, want %d", n, total)
	}
	base := count(t, c, "SELECT sum(u) AS n FROM (SELECT uniq(user_id) AS u FROM events."+table+" GROUP BY assumeNotNull(profile_id), toDate(event_time))")
	if n := count(t, c, "SELECT sum(toUInt64(viewers)) AS n FROM ("+view.ReadSQL()+")"); n != base {
		t.Errorf("the view's viewers sum to %d, a GROUP BY on the base table to %d", n, base)
	}
}
