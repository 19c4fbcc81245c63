package worker_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// recorder is a job that keeps what it was handed: the handler of this test, not a stand-in
// for a server. durable decides what Flush reports; waitUntil pauses records until it is set.
type recorder struct {
	mu       sync.Mutex
	start    map[worker.TopicPartition]int64
	handled  []int64
	flushed  int
	durable  bool
	waitOpen bool
}

func (r *recorder) Assigned(_ context.Context, parts []worker.TopicPartition) (map[worker.TopicPartition]int64, error) {
	out := map[worker.TopicPartition]int64{}
	for _, tp := range parts {
		if n, ok := r.start[tp]; ok {
			out[tp] = n
		}
	}
	return out, nil
}

func (r *recorder) Handle(_ context.Context, rec *worker.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if string(rec.Value) == "wait" && !r.waitOpen {
		return &worker.WaitError{Reason: "test says wait"}
	}
	r.handled = append(r.handled, rec.Offset)
	return nil
}

func (r *recorder) FlushDue(time.Time) bool { return true }

func (r *recorder) Flush(context.Context, bool) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushed++
	return r.durable, nil
}

func (r *recorder) Revoked(context.Context, []worker.TopicPartition) {}
func (r *recorder) Reset()                                           {}

func (r *recorder) offsets() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.handled...)
}

const topic = "local.feed.t.v1"

func setup(t *testing.T) (*kafkatest.Cluster, []kgo.Opt, *worker.Registry, string) {
	t.Helper()
	kc := kafkatest.Start(t, kfake.GroupMinSessionTimeout(500*time.Millisecond))
	opts := []kgo.Opt{kgo.SeedBrokers(kc.Addrs...), kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: kc.AdminPassword}.AsSha256Mechanism())}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	// A descriptor store with one set holding google.protobuf.Empty-like message M.
	set, _ := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name: proto.String("t.proto"), Package: proto.String("t"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M")}}}}})
	st, err := blob.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sha := sum(set)
	if _, err := st.Put(context.Background(), descstore.SetKey(sha), set, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	idx, _ := json.Marshal(descstore.Index{Events: map[string]descstore.Entry{"feed/t": {Message: "t.M", Topic: topic, SHA256: sha}}})
	if _, err := st.Put(context.Background(), descstore.IndexKey, idx, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := 0; i < 10; i++ {
		v := []byte{}
		if i == 7 {
			v = []byte("wait")
		}
		recs = append(recs, &kgo.Record{Topic: topic, Value: v, Headers: []kgo.RecordHeader{{Key: worker.HeaderSchema, Value: []byte(sha)}}})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return kc, opts, worker.NewRegistry(st), sha
}

func run(t *testing.T, opts []kgo.Opt, reg *worker.Registry, h worker.Handler) context.CancelFunc {
	t.Helper()
	w, err := worker.New(worker.Config{Name: "test", Group: worker.GroupID("local", "test"), Topics: []string{topic}, Kafka: opts,
		Registry: reg, Handler: h, PollInterval: 50 * time.Millisecond, WaitRetry: 100 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func committed(t *testing.T, opts []kgo.Opt) int64 {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), worker.GroupID("local", "test"))
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok {
		return -1
	}
	return o.At
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// TestSinkPositionWinsAndPauseResumes: the handler's own position (3) is where consumption
// starts; a record the handler cannot take yet pauses the partition without skipping it, and
// the ones after it wait too, in order, until it is taken.
func TestSinkPositionWinsAndPauseResumes(t *testing.T) {
	_, opts, reg, _ := setup(t)
	h := &recorder{start: map[worker.TopicPartition]int64{{Topic: topic, Partition: 0}: 3}, durable: true}
	run(t, opts, reg, h)
	waitUntil(t, "offsets 3..6", func() bool { return len(h.offsets()) == 4 })
	time.Sleep(300 * time.Millisecond) // several retries of the paused record
	if got := h.offsets(); len(got) != 4 || got[0] != 3 || got[3] != 6 {
		t.Fatalf("handled %v while paused, want [3 4 5 6]", got)
	}
	h.mu.Lock()
	h.waitOpen = true
	h.mu.Unlock()
	waitUntil(t, "the rest after resuming", func() bool { return len(h.offsets()) == 7 })
	got := h.offsets()
	for i, off := range got {
		if off != int64(3+i) {
			t.Fatalf("handled %v, want 3..9 in order", got)
		}
	}
	waitUntil(t, "offset 10 committed", func() bool { return committed(t, opts) == 10 })
}

// TestNoCommitUntilDurable: while the handler only stages (Flush reports not durable), no
// offset is committed to Kafka; once it reports durable, the handled position is.
func TestNoCommitUntilDurable(t *testing.T) {
	_, opts, reg, _ := setup(t)
	h := &recorder{start: map[worker.TopicPartition]int64{}, waitOpen: true}
	stop := run(t, opts, reg, h)
	waitUntil(t, "every record handled and flushed", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.handled) == 10 && h.flushed > 2
	})
	if c := committed(t, opts); c != -1 {
		t.Fatalf("offset %d committed while nothing was durable", c)
	}
	h.mu.Lock()
	h.durable = true
	h.mu.Unlock()
	waitUntil(t, "the commit after a durable flush", func() bool { return committed(t, opts) == 10 })
	stop()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
