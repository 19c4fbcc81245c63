package bigquery_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/control/sink"
	sinkbq "github.com/evctl/evctl/pkg/control/sink/bigquery"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/data/ingest/bigquery"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// The tests run goccy/bigquery-emulator (REST and the Storage Write API over gRPC) on loopback
// ports chosen at run time, one per test, with its database in a file so a restart keeps the
// table. A missing binary fails the test: run scripts/install-tools.sh.

const (
	eventID = "feed/video_played"
	project = "test"
	dataset = "events"
	tableID = "feed__video_played_v1"
	group   = "evctl.local.ingest.bigquery"
)

const contractProto = `syntax = "proto3";
package t.v1;
import "evctl/options.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "google/type/date.proto";

message M {
  optional string event_id = 1 [(evctl.options.v1.required) = true];
  google.protobuf.Timestamp event_time = 2 [(evctl.options.v1.required) = true];
  optional string s = 3;
  optional bool b = 4;
  int64 i64 = 5;
  uint32 u32 = 6;
  optional double d = 7;
  optional bytes by = 8;
  google.type.Date day = 9;
  E e = 10;
  repeated string tags = 11;
  map<string, int64> counts = 12;
  Device device = 13;
  repeated Device devices = 14;
  google.protobuf.Int64Value w64 = 15;
  uint64 u64 = 16;
  Device dev2 = 17;
  enum E { E_UNSPECIFIED = 0; A = 1; B = 2; }
  message Device { optional string model = 1; optional int32 year = 2; optional fixed64 serial = 3; }
}
`

func compile(t testing.TB) (protoreflect.MessageDescriptor, []byte) {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: func(path string) (io.ReadCloser, error) {
			if path == "test.proto" {
				return io.NopCloser(strings.NewReader(contractProto)), nil
			}
			if b, ok := evoptions.Source(path); ok {
				return io.NopCloser(bytes.NewReader(b)), nil
			}
			return nil, os.ErrNotExist
		},
	})}
	files, err := c.Compile(context.Background(), "test.proto")
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for i := 0; i < f.Imports().Len(); i++ {
			add(f.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	add(files[0])
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return files[0].Messages().ByName("M"), b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// emulator is one running bigquery-emulator process.
type emulator struct {
	bin, db        string
	started        bool
	port, grpcPort int
	cmd            *exec.Cmd
	exited         chan error
	logs           bytes.Buffer
}

func (e *emulator) restURL() string  { return "http://127.0.0.1:" + strconv.Itoa(e.port) }
func (e *emulator) grpcAddr() string { return "127.0.0.1:" + strconv.Itoa(e.grpcPort) }

func startEmulator(t *testing.T) *emulator {
	t.Helper()
	root, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, ".tools", "bin", "bigquery-emulator")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the BigQuery emulator is not installed (%s missing): run scripts/install-tools.sh (make test does)", bin)
	}
	ports := freePorts(t, 2)
	e := &emulator{bin: bin, db: filepath.Join(t.TempDir(), "bq.db"), port: ports[0], grpcPort: ports[1]}
	e.start(t)
	t.Cleanup(e.stop)
	return e
}

func (e *emulator) start(t *testing.T) {
	t.Helper()
	e.logs.Reset()
	args := []string{"--project=" + project, "--host=127.0.0.1", "--port=" + strconv.Itoa(e.port),
		"--grpc-port=" + strconv.Itoa(e.grpcPort), "--database=" + e.db, "--log-level=error"}
	if !e.started {
		// A restart on the same database must not create the dataset again (the emulator
		// exits on the duplicate).
		args = append(args, "--dataset="+dataset)
	}
	e.started = true
	e.cmd = exec.Command(e.bin, args...)
	e.cmd.Stdout, e.cmd.Stderr = &e.logs, &e.logs
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	e.exited = exited
	go func() { exited <- e.cmd.Wait() }()
	// Readiness only: the limit stops a hung test, it asserts nothing about speed.
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case err := <-exited:
			t.Fatalf("bigquery-emulator exited: %v\n%s", err, e.logs.String())
		default:
		}
		resp, err := http.Get(e.restURL() + "/projects/" + project + "/datasets")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("bigquery-emulator did not answer within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop kills the process (the test's "BigQuery is down").
func (e *emulator) stop() {
	if e.cmd == nil {
		return
	}
	_ = e.cmd.Process.Kill()
	<-e.exited
	e.cmd = nil
}

// freePorts returns n distinct free loopback ports: the listeners are held until all are
// chosen, since one closed before the next is asked for can be handed out again (the emulator
// then fails to bind its gRPC port to its REST port).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// fixture: kfake with the topic and its DLQ, a file:// descriptor store, the emulator with the
// event's table created by the bigquery sink.
type fixture struct {
	kc      *kafkatest.Cluster
	emu     *emulator
	descDir string
	topic   string
	md      protoreflect.MessageDescriptor
	sha     string
	schema  bigquery.TableConfig
	grpc    *proxy // the worker reaches the Storage Write API through it
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{kc: kafkatest.Start(t, kfake.GroupMinSessionTimeout(500*time.Millisecond)), emu: startEmulator(t),
		descDir: t.TempDir(), topic: "local.feed.video_played.v1"}
	f.grpc = startProxy(t, f.emu.grpcAddr())
	md, set := compile(t)
	f.md, f.sha = md, sha(set)
	ctx := t.Context()
	st, err := blob.Open(ctx, "file://"+f.descDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, descstore.SetKey(f.sha), set, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	idx := descstore.Index{Events: map[string]descstore.Entry{eventID: {Message: string(md.FullName()), Topic: f.topic, SHA256: f.sha, Stage: "prod"}}}
	b, _ := json.Marshal(idx)
	if _, err := st.Put(ctx, descstore.IndexKey, b, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	// The table, as `evctl apply` creates it.
	spec, err := sinkbq.NewTableSpec(md, project, dataset, tableID, sinkbq.TableOptions{Event: eventID, Stage: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sinkbq.Connect(ctx, sinkbq.Config{Project: project, Endpoint: f.emu.restURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := sink.NewDesired(eventID, sinkbq.Kind, spec.ID(), "prod", spec, nil)
	if err := sinkbq.NewTableSink(c).Apply(ctx, sink.Change{Event: eventID, Kind: sinkbq.Kind, Name: spec.ID(), Action: sink.Create, Desired: &d}); err != nil {
		t.Fatal(err)
	}
	f.schema = bigquery.TableConfig{Event: eventID, Topic: f.topic, Project: project, Dataset: dataset, Table: tableID,
		Schema: spec.Schema, MaxRows: 1000, Flush: 100 * time.Millisecond}
	adm := kadm.NewClient(f.client(t))
	for _, topic := range []string{f.topic, worker.DLQTopic(f.topic)} {
		resp, err := adm.CreateTopic(ctx, 2, 1, nil, topic)
		if err != nil || resp.Err != nil {
			t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
		}
	}
	return f
}

func (f *fixture) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(f.kc.Addrs...),
		kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: f.kc.AdminPassword}.AsSha256Mechanism())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes values with the schema header, alternating partitions.
func (f *fixture) produce(t testing.TB, schema string, values [][]byte) {
	t.Helper()
	cl := f.client(t)
	var rs []*kgo.Record
	for i, v := range values {
		rs = append(rs, &kgo.Record{Topic: f.topic, Partition: int32(i % 2), Value: v, Headers: []kgo.RecordHeader{
			{Key: worker.HeaderEvent, Value: []byte(eventID)}, {Key: worker.HeaderSchema, Value: []byte(schema)}}})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// running is a worker started by a test.
type running struct {
	w      *worker.Worker
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

func (f *fixture) start(t *testing.T) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	wc, err := managedwriter.NewClient(ctx, project, option.WithEndpoint(f.grpc.addr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h, err := bigquery.NewHandler(bigquery.Config{Tables: []bigquery.TableConfig{f.schema}, Writer: wc, Logger: log})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	st, err := blob.Open(ctx, "file://"+f.descDir)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w, err := worker.New(worker.Config{Name: "ingest/bigquery", Group: group, Topics: []string{f.topic},
		Kafka:    []kgo.Opt{kgo.SeedBrokers(f.kc.Addrs...), kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: f.kc.AdminPassword}.AsSha256Mechanism())},
		Registry: worker.NewRegistry(st), Handler: h, Logger: log, PollInterval: 100 * time.Millisecond,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{w: w, addr: ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	served := make(chan struct{})
	go func() { defer close(served); _ = w.Serve(ctx, ln) }()
	go func() {
		defer close(r.done)
		if err := w.Run(ctx); err != nil {
			t.Errorf("worker: %v", err)
		}
		cancel()
		<-served
		_ = h.Close()
		_ = wc.Close()
	}()
	t.Cleanup(r.stop)
	return r
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

// query runs sql through the emulator's jobs.query (the BigQuery Go client's Query) and returns
// the rows as maps.
func (f *fixture) query(t testing.TB, sql string) []map[string]bq.Value {
	t.Helper()
	// The limit only stops a hung test (the client retries a failing emulator forever).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := bq.NewClient(ctx, project, option.WithEndpoint(f.emu.restURL()), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	it, err := c.Query(sql).Read(ctx)
	// The emulator's SQLite answers "database table is locked" to a query that meets an append
	// (a loaded machine makes it likely): the query is asked again.
	for err != nil && strings.Contains(err.Error(), "database table is locked") && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
		it, err = c.Query(sql).Read(ctx)
	}
	if err != nil {
		t.Fatalf("query %q: %v\nemulator log:\n%s", sql, err, f.emu.logs.String())
	}
	var out []map[string]bq.Value
	for {
		row := map[string]bq.Value{}
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatalf("query %q: %v", sql, err)
		}
		out = append(out, row)
	}
}

// eventIDs reads every event_id in the table (with duplicates).
func (f *fixture) eventIDs(t testing.TB) []string {
	t.Helper()
	var ids []string
	for _, r := range f.query(t, fmt.Sprintf("SELECT event_id FROM `%s.%s.%s`", project, dataset, tableID)) {
		ids = append(ids, fmt.Sprint(r["event_id"]))
	}
	return ids
}

// waitFor polls cond; the limit only stops a hung test.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metricAbove0 reports whether a counter on the worker's /metrics is above zero.
func metricAbove0(t testing.TB, r *running, series string) bool {
	t.Helper()
	resp, err := http.Get("http://" + r.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v != "0"
		}
	}
	return false
}
