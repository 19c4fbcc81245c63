package delta_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
	sinkdelta "github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

const eventID = "feed/all_types"

// allTypes is a contract with every type the Delta mapping has.
const allTypes = `syntax = "proto3";
package t.v1;
import "evctl/options.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/duration.proto";
import "google/type/date.proto";

message M {
  optional string event_id = 1 [(evctl.options.v1.required) = true];
  google.protobuf.Timestamp event_time = 2 [(evctl.options.v1.required) = true];
  optional string s = 3;
  optional bool b = 4;
  optional int32 i32 = 5;
  optional int64 i64 = 6;
  optional uint32 u32 = 7;
  optional uint64 u64 = 8;
  optional float f = 9;
  optional double d = 10;
  optional bytes by = 11;
  google.type.Date day = 12;
  optional E e = 13;
  repeated string tags = 14;
  map<string, int64> counts = 15;
  Device device = 16;
  repeated Device devices = 17;
  sint32 s32 = 18;
  sint64 s64 = 19;
  fixed32 fx32 = 20;
  fixed64 fx64 = 21;
  sfixed32 sf32 = 22;
  sfixed64 sf64 = 23;
  google.protobuf.Int64Value w64 = 24;
  google.protobuf.StringValue ws = 25;
  google.protobuf.Struct js = 26;
  google.protobuf.Duration dur = 27;
  repeated int64 nums = 28;
  optional string platform = 29;
  EXTRA
  enum E { E_UNSPECIFIED = 0; A = 1; B = 2; }
  message Device { optional string model = 1; optional int32 year = 2; }
}
`

// compile compiles allTypes (with extra fields in place of EXTRA) and returns message M and its
// serialized FileDescriptorSet (the file and its imports).
func compile(t testing.TB, extra string) (protoreflect.MessageDescriptor, []byte) {
	t.Helper()
	src := strings.Replace(allTypes, "EXTRA", extra, 1)
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(path string) (io.ReadCloser, error) {
				if path == "test.proto" {
					return io.NopCloser(strings.NewReader(src)), nil
				}
				if b, ok := evoptions.Source(path); ok {
					return io.NopCloser(bytes.NewReader(b)), nil
				}
				return nil, os.ErrNotExist
			},
		}),
	}
	files, err := c.Compile(context.Background(), "test.proto")
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	fd := files[0]
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
	add(fd)
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("M"), b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fixture is one environment: kfake, a file:// descriptor store and a file:// lake with the
// event's table.
type fixture struct {
	kc          *kafkatest.Cluster
	descDir     string
	lakeDir     string
	location    string
	topic       string
	partitions  int
	md          protoreflect.MessageDescriptor
	sha         string
	partitionBy []string
}

func newFixture(t *testing.T, partitions int, partitionBy ...string) *fixture {
	t.Helper()
	f := &fixture{kc: kafkatest.Start(t, kfake.GroupMinSessionTimeout(500*time.Millisecond)), descDir: t.TempDir(), lakeDir: t.TempDir(), location: "feed/all_types_v1",
		topic: "local.feed.all_types.v1", partitions: partitions, partitionBy: partitionBy}
	md, set := compile(t, "")
	f.md, f.sha = md, sha(set)
	f.publish(t, set, md)
	f.createTable(t, md)
	adm := kadm.NewClient(f.client(t))
	ctx := t.Context()
	for _, topic := range []string{f.topic, worker.DLQTopic(f.topic)} {
		resp, err := adm.CreateTopic(ctx, int32(partitions), 1, nil, topic)
		if err != nil || resp.Err != nil {
			t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
		}
	}
	return f
}

func (f *fixture) kafkaOpts() []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(f.kc.Addrs...),
		kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: f.kc.AdminPassword}.AsSha256Mechanism())}
}

func (f *fixture) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(f.kafkaOpts(), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (f *fixture) store(t testing.TB, dir string) blob.Store {
	t.Helper()
	s, err := blob.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// publish writes the set and points index.json at it (what apply's descriptor step does).
func (f *fixture) publish(t testing.TB, set []byte, md protoreflect.MessageDescriptor) {
	t.Helper()
	st := f.store(t, f.descDir)
	ctx := context.Background()
	if _, err := st.Put(ctx, descstore.SetKey(sha(set)), set, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	idx := descstore.Index{Events: map[string]descstore.Entry{eventID: {Message: string(md.FullName()), Topic: f.topic, SHA256: sha(set), Stage: "prod"}}}
	b, _ := json.Marshal(idx)
	if _, err := st.Put(ctx, descstore.IndexKey, b, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
}

// createTable writes version 0 of the table as the delta_table sink lays it out.
func (f *fixture) createTable(t testing.TB, md protoreflect.MessageDescriptor) {
	t.Helper()
	spec, err := sinkdelta.NewTableSpec(eventID, "prod", md, f.partitionBy)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := sinkdelta.SchemaString(spec.Schema)
	if err != nil {
		t.Fatal(err)
	}
	err = deltalog.Commit(context.Background(), f.store(t, f.lakeDir), f.location, 0, []deltalog.Action{
		{Protocol: &deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}},
		{MetaData: &deltalog.Metadata{ID: "t-1", Format: deltalog.Format{Provider: "parquet"}, SchemaString: schema, PartitionColumns: spec.PartitionColumns}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// evolve commits a new metaData with the columns of md (what apply's additive update does).
func (f *fixture) evolve(t testing.TB, md protoreflect.MessageDescriptor) {
	t.Helper()
	st := f.store(t, f.lakeDir)
	snap, err := deltalog.Read(context.Background(), st, f.location)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := sinkdelta.NewTableSpec(eventID, "prod", md, f.partitionBy)
	if err != nil {
		t.Fatal(err)
	}
	schema, _ := sinkdelta.SchemaString(spec.Schema)
	m := snap.Metadata
	m.SchemaString = schema
	if err := deltalog.Commit(context.Background(), st, f.location, snap.Version+1, []deltalog.Action{{MetaData: &m}}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) headers(sha string) []kgo.RecordHeader {
	return []kgo.RecordHeader{{Key: worker.HeaderEvent, Value: []byte(eventID)}, {Key: worker.HeaderSchema, Value: []byte(sha)},
		{Key: "content-type", Value: []byte("application/x-protobuf")}}
}

// produce writes values with the schema header, spread over partitions by key.
func (f *fixture) produce(t testing.TB, sha string, values [][]byte) {
	t.Helper()
	cl := f.client(t, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100000))
	ctx := context.Background()
	errs := make(chan error, 1)
	for i, v := range values {
		r := &kgo.Record{Topic: f.topic, Key: []byte(strings.Repeat("k", 1+i%7) + string(rune('a'+i%26))), Value: v, Headers: f.headers(sha)}
		r.Partition = int32(i % f.partitions)
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// endOffsets are the high watermarks of the topic's partitions.
func (f *fixture) endOffsets(t testing.TB) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(f.client(t))
	ends, err := adm.ListEndOffsets(context.Background(), f.topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// caughtUp reports whether the table's txn versions reach every partition's last offset.
func (f *fixture) caughtUp(t testing.TB, group string) bool {
	t.Helper()
	snap, err := deltalog.Read(context.Background(), f.store(t, f.lakeDir), f.location)
	if err != nil {
		t.Fatal(err)
	}
	for p, end := range f.endOffsets(t) {
		if end == 0 {
			continue
		}
		v, ok := snap.Txns[group+"/"+f.topic+"/"+itoa(int(p))]
		if !ok || v < end-1 {
			return false
		}
	}
	return true
}

func itoa(n int) string { return strconv.Itoa(n) }

// waitFor polls cond until it holds, failing the test after a (generous) limit: the limit only
// stops a hung test, it asserts nothing about speed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// duck runs sql over the table with DuckDB (the independent reader) and returns the rows.
func (f *fixture) duck(t testing.TB, sql string) []map[string]any {
	t.Helper()
	dir := os.Getenv("EVCTL_DUCKDB_NODE_DIR")
	if dir == "" {
		root, err := filepath.Abs("../../../..")
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, ".tools", "duckdb")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api")); err != nil {
		t.Fatalf("DuckDB for Node is missing (%v): run scripts/install-tools.sh (make test does)", err)
	}
	cmd := exec.Command("node", "testdata/readdelta.cjs", filepath.Join(f.lakeDir, f.location), sql)
	cmd.Env = append(os.Environ(), "DUCKDB_NODE_DIR="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb read: %v\n%s", err, stderr.String())
	}
	var rows []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("duckdb output %q: %v", sc.Text(), err)
		}
		rows = append(rows, row)
	}
	return rows
}

// versions lists the table's commit versions.
func (f *fixture) versions(t testing.TB) []int64 {
	t.Helper()
	vs, err := deltalog.Versions(context.Background(), f.store(t, f.lakeDir), f.location)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// waitLimit stops a hung test; EVCTL_TEST_WAIT shortens it when debugging.
var waitLimit = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("EVCTL_TEST_WAIT")); err == nil {
		return d
	}
	return 5 * time.Minute
}()
