package delta_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/data/ingest/delta"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// workerSpec is everything a worker needs, passed to a child process as JSON.
type workerSpec struct {
	Addrs       []string      `json:"addrs"`
	Password    string        `json:"password"`
	DescDir     string        `json:"desc_dir"`
	LakeDir     string        `json:"lake_dir"`
	Location    string        `json:"location"`
	Topic       string        `json:"topic"`
	Group       string        `json:"group"`
	PartitionBy []string      `json:"partition_by"`
	Flush       time.Duration `json:"flush"`
	MaxRows     int           `json:"max_rows"`
	Batch       bool          `json:"batch"`
	Cadence     time.Duration `json:"cadence"`
	Listen      bool          `json:"listen"`
}

func (f *fixture) spec(group string) workerSpec {
	return workerSpec{Addrs: f.kc.Addrs, Password: f.kc.AdminPassword, DescDir: f.descDir, LakeDir: f.lakeDir, Location: f.location,
		Topic: f.topic, Group: group, PartitionBy: f.partitionBy, Flush: 100 * time.Millisecond, MaxRows: 20000}
}

// running is a worker started by a test.
type running struct {
	w      *worker.Worker
	addr   string // /metrics listener
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

// start runs a worker of spec in this process until the returned worker is stopped.
func start(t testing.TB, s workerSpec) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, ln, err := buildWorker(ctx, s, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{w: w, addr: ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = w.Serve(ctx, ln) }()
	go func() {
		defer close(r.done)
		if err := w.Run(ctx); err != nil {
			t.Errorf("worker: %v", err)
		}
		cancel()
		wg.Wait()
	}()
	t.Cleanup(r.stop)
	return r
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

func buildWorker(ctx context.Context, s workerSpec, log *slog.Logger) (*worker.Worker, net.Listener, error) {
	desc, err := blob.Open(ctx, "file://"+s.DescDir)
	if err != nil {
		return nil, nil, err
	}
	lake, err := blob.Open(ctx, "file://"+s.LakeDir)
	if err != nil {
		return nil, nil, err
	}
	h, err := delta.NewHandler(delta.Config{Group: s.Group, Logger: log, Tables: []delta.TableConfig{{
		Event: eventID, Topic: s.Topic, Store: lake, Location: s.Location, PartitionBy: s.PartitionBy,
		Flush: s.Flush, MaxRows: s.MaxRows, Batch: s.Batch, Cadence: s.Cadence, CheckpointInterval: 10,
	}}})
	if err != nil {
		return nil, nil, err
	}
	w, err := worker.New(worker.Config{Name: "ingest/delta", Group: s.Group, Topics: []string{s.Topic},
		Kafka: []kgo.Opt{kgo.SeedBrokers(s.Addrs...), kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: s.Password}.AsSha256Mechanism()),
			// A killed member holds its partitions until its session times out: short here so
			// the tests do not sit through Kafka's 45 s default.
			kgo.SessionTimeout(3 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond), kgo.RebalanceTimeout(5 * time.Second)},
		Registry: worker.NewRegistry(desc), Handler: h, Logger: log,
		PollInterval: 50 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
		WaitRetry: 200 * time.Millisecond, StopTimeout: 10 * time.Second})
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	return w, ln, nil
}

// childEnv carries a workerSpec to a re-executed test binary, which then runs only the worker.
const childEnv = "EVCTL_TEST_INGEST_WORKER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

func runChild(spec string) int {
	var s workerSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	w, ln, err := buildWorker(ctx, s, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln.Close()
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a worker in another process (the test binary re-executed), for kill -9.
type child struct {
	cmd  *exec.Cmd
	done chan error
}

func startChild(t testing.TB, s workerSpec) *child {
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
	t.Cleanup(func() { c.kill() })
	return c
}

// waitForChild is waitFor for a condition c must bring about; when it gives up, c is sent
// SIGQUIT first so its goroutines are in the test log (a hang is then diagnosable).
func waitForChild(t testing.TB, c *child, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			_ = c.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case err := <-c.done:
				c.done <- err
			case <-time.After(10 * time.Second):
			}
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
	c.done <- nil // later kills return at once
}
