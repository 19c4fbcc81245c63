package route_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/data/route"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// fixture is a kfake cluster (SASL, ACLs) with the event's topic, its worker DLQ and the
// descriptor store holding its schema: what apply leaves behind for `evctl route`.
type fixture struct {
	opts  []kgo.Opt
	cl    *kgo.Client
	store blob.Store
	dir   string
	md    protoreflect.MessageDescriptor
	sha   string
}

func newFixture(t testing.TB, partitions int32, topics ...string) *fixture {
	t.Helper()
	md, set := compileSchema(t)
	f := &fixture{md: md, sha: descstore.SHA256(set)}
	kc := kafkatest.Start(t, kfake.GroupMinSessionTimeout(500*time.Millisecond))
	f.opts = []kgo.Opt{kgo.SeedBrokers(kc.Addrs...), kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: kc.AdminPassword}.AsSha256Mechanism())}
	cl, err := kgo.NewClient(f.opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	f.cl = cl
	ctx := t.Context()
	for _, tp := range append([]string{topic, worker.DLQTopic(topic)}, topics...) {
		f.createTopic(t, tp, partitions)
	}
	f.dir = t.TempDir()
	if f.store, err = blob.Open(ctx, "file://"+f.dir); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Put(ctx, descstore.SetKey(f.sha), set, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	idx, _ := json.Marshal(descstore.Index{Events: map[string]descstore.Entry{eventID: {Message: string(md.FullName()), Topic: topic, SHA256: f.sha, Stage: "prod"}}})
	if _, err := f.store.Put(ctx, descstore.IndexKey, idx, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) createTopic(t testing.TB, name string, partitions int32) {
	t.Helper()
	if resp, err := kadm.NewClient(f.cl).CreateTopic(t.Context(), partitions, 1, nil, name); err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", name, err, resp.Err)
	}
}

// ev is one event to produce; its Kafka key is user.
type ev struct {
	user, step string
	n          int
}

// produce writes events with ids e-<first+i> and returns their values by id.
func (f *fixture) produce(t testing.TB, first int, evs []ev) map[string][]byte {
	t.Helper()
	values := map[string][]byte{}
	var recs []*kgo.Record
	for i, e := range evs {
		m := dynamicpb.NewMessage(f.md)
		id := fmt.Sprintf("e-%d", first+i)
		js := fmt.Sprintf(`{"event_id":%q,"event_time":"2026-11-01T10:00:00Z","user":%q,"step":%q,"n":"%d"}`, id, e.user, e.step, e.n)
		if err := protojson.Unmarshal([]byte(js), m); err != nil {
			t.Fatal(err)
		}
		v, _ := proto.Marshal(m)
		values[id] = v
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(e.user), Value: v, Headers: []kgo.RecordHeader{
			{Key: worker.HeaderEvent, Value: []byte(eventID)}, {Key: worker.HeaderSchema, Value: []byte(f.sha)}}})
	}
	if err := f.cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return values
}

// running is one route.Run in a goroutine.
type running struct {
	stop     context.CancelFunc
	done     chan struct{} // closed when Run returned, err then set
	err      error
	mu       sync.Mutex
	handlers []*route.Handler
}

func (r *running) handler() *route.Handler {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.handlers) == 0 {
		return nil
	}
	return r.handlers[0]
}

func (r *running) all() []*route.Handler {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*route.Handler(nil), r.handlers...)
}

// wait stops the run and returns its error.
func (r *running) wait() error {
	r.stop()
	<-r.done
	return r.err
}

// fastTune shortens the worker's intervals (and the group's timeouts) for tests.
func fastTune(wc *worker.Config) {
	wc.PollInterval, wc.MinBackoff, wc.MaxBackoff = 100*time.Millisecond, 10*time.Millisecond, 200*time.Millisecond
	wc.Kafka = append(wc.Kafka, kgo.SessionTimeout(3*time.Second), kgo.RebalanceTimeout(3*time.Second), kgo.HeartbeatInterval(200*time.Millisecond))
}

// start runs route.Run with rc (Env, Kafka and Descriptors filled in from the fixture).
func (f *fixture) start(t testing.TB, rc route.RunConfig) *running {
	t.Helper()
	r := &running{done: make(chan struct{})}
	ctx, stop := context.WithCancel(t.Context())
	r.stop = stop
	rc.Env, rc.Kafka, rc.Descriptors = env, f.opts, f.store
	if rc.Tune == nil {
		rc.Tune = fastTune
	}
	if rc.Logger == nil && testing.Verbose() {
		rc.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if rc.CommitEvery == 0 {
		rc.CommitEvery = 100 * time.Millisecond
	}
	rc.Started = func(h *route.Handler) { r.mu.Lock(); r.handlers = append(r.handlers, h); r.mu.Unlock() }
	go func() {
		r.err = route.Run(ctx, rc)
		if r.err != nil {
			t.Logf("route.Run: %v", r.err)
		}
		close(r.done)
	}()
	t.Cleanup(func() { stop(); <-r.done })
	return r
}

func parseConsumer(t testing.TB, yml string) *consumer.Consumer {
	t.Helper()
	c, diags := consumer.Parse("consumers/x.yaml", []byte(yml))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	return c
}

// readTopic reads records from name until want of them arrived (a hang guard ends the test).
func (f *fixture) readTopic(t testing.TB, name string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append(f.opts, kgo.ConsumeTopics(name), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(2 * time.Minute) // stops a hung test only
	for len(out) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d records, want %d", name, len(out), want)
		}
		pctx, cancel := context.WithTimeout(t.Context(), time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// eventually polls cond until it holds (a hang guard ends the test).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // stops a hung test only
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hdr(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func compileSchema(t testing.TB) (protoreflect.MessageDescriptor, []byte) {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: func(path string) (io.ReadCloser, error) {
			if path == "step.proto" {
				return io.NopCloser(strings.NewReader(schema)), nil
			}
			return nil, os.ErrNotExist
		}})}
	files, err := c.Compile(context.Background(), "step.proto")
	if err != nil {
		t.Fatal(err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	for i := 0; i < files[0].Imports().Len(); i++ {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(files[0].Imports().Get(i).FileDescriptor))
	}
	set.File = append(set.File, protodesc.ToFileDescriptorProto(files[0]))
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return files[0].Messages().ByName("StepCompleted"), b
}
