package bigquery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"google.golang.org/api/option"

	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/data/ingest/bigquery"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// batchSpec is a batch worker run in a child process (the test binary re-executed), so that it
// can be killed with SIGKILL.
type batchSpec struct {
	Addrs      []string             `json:"addrs"`
	Password   string               `json:"password"`
	DescDir    string               `json:"desc_dir"`
	Topic      string               `json:"topic"`
	REST       string               `json:"rest"`
	StagingURL string               `json:"staging_url"`
	Table      bigquery.TableConfig `json:"table"`
	// KillAt makes the child SIGKILL itself the first time a load reaches that point
	// ("manifest": before the job is inserted; "done": job DONE, offsets not committed).
	KillAt string `json:"kill_at"`
}

func (f *fixture) batchSpec(rest string, cadence time.Duration) batchSpec {
	tc := f.schema
	tc.Flush = cadence
	return batchSpec{Addrs: f.kc.Addrs, Password: f.kc.AdminPassword, DescDir: f.descDir, Topic: f.topic, REST: rest,
		StagingURL: "gs://stage/in", Table: tc}
}

const childEnv = "EVCTL_TEST_BQ_BATCH_WORKER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

func runChild(spec string) int {
	var s batchSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := runBatchWorker(ctx, s, log); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func runBatchWorker(ctx context.Context, s batchSpec, log *slog.Logger) error {
	c, err := bq.NewClient(ctx, project, option.WithEndpoint(s.REST), option.WithoutAuthentication())
	if err != nil {
		return err
	}
	defer c.Close()
	staging, err := blob.Open(ctx, s.StagingURL)
	if err != nil {
		return err
	}
	defer staging.Close()
	h, err := bigquery.NewBatchHandler(bigquery.BatchConfig{Group: group, Tables: []bigquery.TableConfig{s.Table}, Client: c,
		Staging: staging, StagingURL: s.StagingURL, Logger: log})
	if err != nil {
		return err
	}
	if s.KillAt != "" {
		bigquery.SetLoadHook(h, func(point string) {
			if point == s.KillAt {
				log.Info("killing myself", "at", point)
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // SIGKILL is not instant; nothing after this point may run
			}
		})
	}
	desc, err := blob.Open(ctx, "file://"+s.DescDir)
	if err != nil {
		return err
	}
	w, err := worker.New(worker.Config{Name: "ingest/bigquery", Group: group, Topics: []string{s.Topic},
		Kafka: []kgo.Opt{kgo.SeedBrokers(s.Addrs...), kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: s.Password}.AsSha256Mechanism()),
			// A killed member holds its partitions until its session times out: short here so
			// the test does not sit through Kafka's 45 s default.
			kgo.SessionTimeout(3 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond), kgo.RebalanceTimeout(5 * time.Second)},
		Registry: worker.NewRegistry(desc), Handler: h, Logger: log, PollInterval: 50 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, StopTimeout: 30 * time.Second})
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// child is a worker process.
type child struct {
	cmd  *exec.Cmd
	done chan error
}

func startChild(t testing.TB, s batchSpec) *child {
	t.Helper()
	b, _ := json.Marshal(s)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(c.kill)
	return c
}

// wait waits for the process to exit by itself (the limit only stops a hung test).
func (c *child) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err
		return err
	case <-time.After(3 * time.Minute):
		t.Fatal("the worker process did not exit")
		return nil
	}
}

func (c *child) signal(sig syscall.Signal) { _ = c.cmd.Process.Signal(sig) }

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	c.signal(syscall.SIGKILL)
	err := <-c.done
	c.done <- err
}

// restProxy relays the worker's BigQuery REST calls to the emulator and finishes every call it
// relayed even when the worker dies mid-call, as BigQuery does: a job once inserted runs to its
// end whatever happens to the client. The emulator instead cancels a load whose client went
// away, between its data and its job record (two transactions), which no client can recover
// from. inflight counts calls not finished yet.
type restProxy struct {
	url      string
	inflight atomic.Int64
}

func startRESTProxy(t testing.TB, target string) *restProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &restProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.inflight.Add(1)
		defer p.inflight.Add(-1)
		// Bounded all the same, so that a call the emulator never answers cannot hold the
		// server's Close (which waits for every call) past the test.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Minute)
		defer cancel()
		rp.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// settle waits until every call a killed worker made has finished. The emulator records a load
// job only once its rows are in; BigQuery records it when it is inserted and refuses a second
// job with its ID. Without this wait a restarted worker could look the job up while the killed
// worker's insert is still loading, find nothing, and insert it again: a window of the
// emulator's, not of the design.
func (p *restProxy) settle(t testing.TB) {
	t.Helper()
	waitFor(t, "the killed worker's BigQuery calls to finish", func() bool { return p.inflight.Load() == 0 })
}
