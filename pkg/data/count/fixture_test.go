package count

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/counterstore/redis/redistest"
	"github.com/evctl/evctl/pkg/data/counterstore/stores"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// The event the tests count: a like (or unlike) of a post, with a weight to sum.
const (
	testEnv   = "t"
	testEvent = "feed/post_liked"
	testTopic = "t.feed.post_liked.v1"
	testProto = `syntax = "proto3";
package events.feed.v1;
message PostLiked {
  enum Action { ACTION_UNSPECIFIED = 0; LIKE = 1; UNLIKE = 2; }
  string post_id = 1;
  Action action = 2;
  int64 weight = 3;
  string event_id = 1000;
}
`
)

// testCounters are short-windowed versions of the SPEC's tiers, so a test run closes many
// windows of every tier.
func testCounters() []contract.Counter {
	tiers := []contract.Window{{Below: 50, Every: "100ms"}, {Below: 2000, Every: "300ms"}, {Every: "1s"}}
	return []contract.Counter{
		{Name: "post_likes", Key: "post_id", Where: map[string]string{"action": "LIKE"}, Sum: "1", Windows: tiers,
			Milestones: []int64{10, 100, 1000, 10000}},
		{Name: "post_weight", Key: "post_id", Sum: "weight", Windows: tiers, Milestones: []int64{50, 5000}},
	}
}

// childConfig is what the parent test hands a count process (in an environment variable).
type childConfig struct {
	Brokers     []string `json:"brokers"`
	Password    string   `json:"password"`
	Store       string   `json:"store"`
	Descriptors string   `json:"descriptors"`
	Instance    string   `json:"instance"`
	// Repartition: the topic is not keyed by post_id, so both counters go through their
	// repartition topics.
	Repartition bool `json:"repartition"`
}

const childEnv = "EVCTL_COUNT_TEST_CHILD"

// TestMain runs a count worker instead of the tests when started as a child by the kill -9 and
// rebalance tests.
func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		if err := runChild(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func kafkaOpts(brokers []string, password string) []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(brokers...),
		kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: password}.AsSha256Mechanism())}
}

func runChild(raw string) error {
	var cfg childConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	store, err := stores.Open(ctx, cfg.Store, "", testEnv, "")
	if err != nil {
		return err
	}
	defer store.Close()
	desc, err := blob.Open(ctx, cfg.Descriptors)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ec := EventCounters{Event: testEvent, Counters: testCounters()}
	if cfg.Repartition {
		ec.Repartition = []string{"post_likes", "post_weight"}
	}
	return Run(ctx, RunConfig{Env: testEnv, Logger: log, Events: []EventCounters{ec},
		Topics: map[string]string{testEvent: testTopic}, Kafka: kafkaOpts(cfg.Brokers, cfg.Password),
		Descriptors: desc, Store: store,
		Tune: func(c *worker.Config) {
			c.PollInterval = 50 * time.Millisecond
			c.MaxPollRecords = 5000
			// A killed member holds its partitions until its session times out: keep that short.
			c.Kafka = append(c.Kafka, kgo.SessionTimeout(6*time.Second), kgo.RebalanceTimeout(6*time.Second),
				kgo.HeartbeatInterval(500*time.Millisecond))
			// A restarted process takes its predecessor's place at once (static membership),
			// as a restarted Kafka Streams instance with group.instance.id does.
			if cfg.Instance != "" {
				c.Kafka = append(c.Kafka, kgo.InstanceID(cfg.Instance))
			}
		}})
}

// fixture is a kfake cluster with the topics, a descriptor store holding the event, and Redis.
type fixture struct {
	t     testing.TB
	kc    *kafkatest.Cluster
	cl    *kgo.Client
	adm   *kadm.Client
	md    protoreflect.MessageDescriptor
	sha   string
	desc  string // file:// URL of the descriptor store
	store string // counters.store URL
	parts int32
	// repartition: records are keyed by their event_id, not by post_id, and the counters are
	// counted through their repartition topics.
	repartition bool
	// repCounters are the counters counted through repartition topics when repartition is set
	// (nil: post_likes and post_weight).
	repCounters []string
	// redone counts child log lines saying a restart read milestones back before redoing a
	// write's records (the recovery path ran).
	redone int
}

func newFixture(t testing.TB, parts int32) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, kc: kafkatest.Start(t), parts: parts}
	cl, err := kgo.NewClient(append(kafkaOpts(f.kc.Addrs, f.kc.AdminPassword),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), kgo.ProducerBatchMaxBytes(1<<20))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	f.cl, f.adm = cl, kadm.NewClient(cl)
	for topic, n := range map[string]int32{testTopic: parts, MilestonesTopic(testEnv): 2,
		ChangelogTopic(testEnv, "post_likes"): parts, ChangelogTopic(testEnv, "post_weight"): parts} {
		if _, err := f.adm.CreateTopic(ctx, n, 1, nil, topic); err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}
	// The event's contract, published as apply would.
	c := protocompile.Compiler{Resolver: &protocompile.SourceResolver{Accessor: func(p string) (io.ReadCloser, error) {
		if p != "post_liked.proto" {
			return nil, os.ErrNotExist
		}
		return io.NopCloser(strings.NewReader(testProto)), nil
	}}}
	files, err := c.Compile(ctx, "post_liked.proto")
	if err != nil {
		t.Fatal(err)
	}
	f.md = files[0].Messages().ByName("PostLiked")
	set, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&descriptorpb.FileDescriptorSet{
		File: []*descriptorpb.FileDescriptorProto{protodesc.ToFileDescriptorProto(files[0])}})
	sum := sha256.Sum256(set)
	f.sha = hex.EncodeToString(sum[:])
	dir := t.TempDir()
	f.desc = "file://" + dir
	bs, err := blob.Open(ctx, f.desc)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := json.Marshal(descstore.Index{Events: map[string]descstore.Entry{testEvent: {
		Message: "events.feed.v1.PostLiked", Topic: testTopic, SHA256: f.sha, Stage: "prod"}}})
	for k, v := range map[string][]byte{descstore.SetKey(f.sha): set, descstore.IndexKey: idx} {
		if _, err := bs.Put(ctx, k, v, blob.PutOpts{}); err != nil {
			t.Fatal(err)
		}
	}
	f.store = redistest.Start(t).URL(0)
	return f
}

// produce writes n events with Zipf(1.1) keys over keys posts: 80% likes, weights 0..4.
func (f *fixture) produce(n, keys int, seed int64) {
	f.t.Helper()
	r := rand.New(rand.NewSource(seed))
	z := rand.NewZipf(r, 1.1, 1, uint64(keys-1))
	fd := f.md.Fields()
	const batch = 10_000
	for done := 0; done < n; done += batch {
		recs := make([]*kgo.Record, 0, batch)
		for i := done; i < min(n, done+batch); i++ {
			m := dynamicpb.NewMessage(f.md)
			key := fmt.Sprintf("p%d", z.Uint64())
			m.Set(fd.ByName("post_id"), protoreflect.ValueOfString(key))
			action := protoreflect.EnumNumber(1)
			if r.Intn(5) == 0 {
				action = 2
			}
			m.Set(fd.ByName("action"), protoreflect.ValueOfEnum(action))
			m.Set(fd.ByName("weight"), protoreflect.ValueOfInt64(int64(r.Intn(5))))
			m.Set(fd.ByName("event_id"), protoreflect.ValueOfString(fmt.Sprintf("e%d", i)))
			v, _ := proto.Marshal(m)
			rk := []byte(key)
			if f.repartition {
				rk = []byte(fmt.Sprintf("e%d-%d", seed, i)) // spread over partitions
			}
			recs = append(recs, &kgo.Record{Topic: testTopic, Key: rk, Value: v, Headers: []kgo.RecordHeader{
				{Key: worker.HeaderEvent, Value: []byte(testEvent)}, {Key: worker.HeaderSchema, Value: []byte(f.sha)}}})
		}
		if err := f.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			f.t.Fatalf("produce: %v", err)
		}
	}
}

// exact counts every counter from the topic itself, read back by an independent consumer and
// decoded with dynamicpb.
func (f *fixture) exact() map[string]map[string]int64 {
	out, _ := f.exactHits()
	return out
}

// exactHits is exact, plus how many times a record added to a counter.
func (f *fixture) exactHits() (map[string]map[string]int64, int64) {
	f.t.Helper()
	var hits int64
	out := map[string]map[string]int64{"post_likes": {}, "post_weight": {}}
	fd := f.md.Fields()
	f.readAll(testTopic, func(r *kgo.Record) {
		m := dynamicpb.NewMessage(f.md)
		if err := proto.Unmarshal(r.Value, m); err != nil {
			f.t.Fatalf("decode: %v", err)
		}
		key := m.Get(fd.ByName("post_id")).String()
		if m.Get(fd.ByName("action")).Enum() == 1 {
			out["post_likes"][key]++
			hits++
		}
		if w := m.Get(fd.ByName("weight")).Int(); w != 0 {
			out["post_weight"][key] += w
			hits++
		}
	})
	return out, hits
}

// readAll reads a topic from the start to its current end.
func (f *fixture) readAll(topic string, fn func(*kgo.Record)) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ends, err := f.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		f.t.Fatal(err)
	}
	until := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			until[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(append(kafkaOpts(f.kc.Addrs, f.kc.AdminPassword), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		f.t.Fatal(err)
	}
	defer cl.Close()
	for len(until) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			f.t.Fatalf("read %s: %v (left %v)", topic, ctx.Err(), until)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := until[r.Partition]; ok && r.Offset < end {
				fn(r)
				if r.Offset+1 >= end {
					delete(until, r.Partition)
				}
			}
		})
	}
}

// child starts a count process; instance, when set, is its static group membership id.
func (f *fixture) child(instance string) *exec.Cmd {
	f.t.Helper()
	cfg, _ := json.Marshal(childConfig{Brokers: f.kc.Addrs, Password: f.kc.AdminPassword, Store: f.store, Descriptors: f.desc,
		Instance: instance, Repartition: f.repartition})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		f.redone += strings.Count(out.String(), "milestones produced before a restart read back")
		if f.t.Failed() && out.Len() > 0 {
			f.t.Logf("child %d output:\n%s", cmd.Process.Pid, tail(out.String(), 4000))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// progress is the sum over partitions of the offsets the store has counted to.
func (f *fixture) progress(store counterstore.Store) int64 {
	f.t.Helper()
	var sum int64
	for p := int32(0); p < f.parts; p++ {
		fe, err := store.Fence(context.Background(), Group(testEnv)+"/"+testTopic+"/"+fmt.Sprint(p))
		if err != nil {
			f.t.Fatal(err)
		}
		sum += fe.Offset + 1
	}
	return sum
}

// settled waits until every partition's fence is at its end and no window is open.
func (f *fixture) settled(store counterstore.Store, limit time.Duration) {
	f.settle(store, limit, true)
}

// settledFences waits until every partition's fence is at its end (windows may be open: their
// counts are in the outbox).
func (f *fixture) settledFences(store counterstore.Store, limit time.Duration) {
	f.settle(store, limit, false)
}

// isSettled reports whether every partition's fence is at its end with no window open: the
// source topic's, then (once those are, so nothing more is forwarded) the repartition topics'.
func (f *fixture) isSettled(store counterstore.Store) bool {
	return f.pending(store, true) == 0
}

// topics are the topics counted: the source and, when repartitioned, the repartition topics.
func (f *fixture) topics() []string {
	ts := []string{testTopic}
	if f.repartition {
		names := f.repCounters
		if names == nil {
			names = []string{"post_likes", "post_weight"}
		}
		for _, c := range names {
			ts = append(ts, RepartitionTopic(testEnv, c))
		}
	}
	return ts
}

// pending is how many partitions are not yet fenced at their end (or, with closed, have open
// windows). The topics are checked in order and a later one only once the earlier are settled:
// a repartition topic's end is final only when the source is fenced.
func (f *fixture) pending(store counterstore.Store, closed bool) int {
	f.t.Helper()
	ctx := context.Background()
	for _, topic := range f.topics() {
		ends, err := f.adm.ListEndOffsets(ctx, topic)
		if err != nil {
			f.t.Fatal(err)
		}
		n := 0
		ends.Each(func(o kadm.ListedOffset) {
			fe, err := store.Fence(ctx, Group(testEnv)+"/"+topic+"/"+fmt.Sprint(o.Partition))
			if err != nil {
				f.t.Fatal(err)
			}
			ob, _ := decodeOutbox(fe.Outbox)
			if o.Offset > 0 && (fe.Offset != o.Offset-1 || closed && len(ob.Open) > 0) {
				n++
			}
		})
		if n > 0 {
			return n
		}
	}
	return 0
}

func (f *fixture) settle(store counterstore.Store, limit time.Duration, closed bool) {
	f.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		n := f.pending(store, closed)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d partitions not counted to their end after %v", n, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// check compares every counter with the exact count and each milestone with what the exact
// values reached: each exactly once.
func (f *fixture) check(store counterstore.Store) {
	f.t.Helper()
	ctx := context.Background()
	want, hits := f.exactHits()
	parts := make([]int32, f.parts)
	for i := range parts {
		parts[i] = int32(i)
	}
	tot, err := ReadTotals(ctx, store, testEnv, f.topics(), parts)
	if err != nil {
		f.t.Fatal(err)
	}
	// The running totals kept with the fences are exact across kills and rebalances too.
	if tot.Counted != hits || tot.OpenWindows != 0 || tot.Fenced < int(f.parts) || tot.KeyWrites == 0 {
		f.t.Errorf("totals %+v, want %d counted, no open window, every partition fenced", tot, hits)
	}
	keys := 0
	for counter, byKey := range want {
		ks := make([]string, 0, len(byKey))
		for k := range byKey {
			ks = append(ks, k)
		}
		got, err := store.Get(ctx, counter, ks)
		if err != nil {
			f.t.Fatal(err)
		}
		bad := 0
		for i, k := range ks {
			if got[i] != byKey[k] {
				if bad++; bad <= 10 {
					f.t.Errorf("%s/%s = %d, exact count %d", counter, k, got[i], byKey[k])
				}
			}
		}
		if bad > 0 {
			f.t.Errorf("%s: %d of %d keys differ", counter, bad, len(ks))
		}
		keys += len(ks)
	}
	ms, err := CompileMilestone(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	seen := map[milestoneID]int{}
	f.readAll(MilestonesTopic(testEnv), func(r *kgo.Record) {
		m, err := ms.Decode(r.Value)
		if err != nil {
			f.t.Fatal(err)
		}
		seen[milestoneID{m.Counter, m.Key, m.Milestone}]++
	})
	expected := 0
	for _, c := range testCounters() {
		for k, v := range want[c.Name] {
			for _, m := range c.Milestones {
				if v >= m {
					expected++
					if n := seen[milestoneID{c.Name, k, m}]; n != 1 {
						f.t.Errorf("milestone %s/%s/%d produced %d times, want once", c.Name, k, m, n)
					}
				}
			}
		}
	}
	if len(seen) != expected {
		f.t.Errorf("%d distinct milestones produced, %d reached", len(seen), expected)
	}
	f.t.Logf("%d keys compared, %d milestones each produced once; %d counted, %d key writes (%.1f per write)",
		keys, expected, tot.Counted, tot.KeyWrites, tot.Reduction())
}

func (f *fixture) openStore() counterstore.Store {
	f.t.Helper()
	s, err := stores.Open(context.Background(), f.store, "", testEnv, "")
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { s.Close() })
	return s
}
