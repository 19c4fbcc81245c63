package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// contracts compiles the repository's contracts once per test binary.
var contracts = sync.OnceValues(func() (*repo, error) {
	ws, err := workspace.Open("", "../../..")
	if err != nil {
		return nil, err
	}
	return &repo{ws: ws, rep: lint.Check(context.Background(), ws, lint.Options{SkipGenFresh: true})}, nil
})

type repo struct {
	ws  *workspace.Workspace
	rep *lint.Report
}

// env is a gateway on a loopback port with kfake and a file:// descriptor store.
type env struct {
	t      *testing.T
	kafka  *kafkatest.Cluster
	store  blob.Store
	url    string
	gw     *Gateway
	index  descstore.Index
	stop   func()
	client *http.Client
	topics map[string]string // event → topic
	descs  map[string]protoreflect.MessageDescriptor
	tokens map[string]string
	kopts  []kgo.Opt
}

type envOpts struct {
	cfg     func(*Config)
	kafka   *kafkatest.Cluster
	publish []string // events published at start
	debug   bool     // serve the runtime's profiles on a port of their own (Gateway.ServeDebug)
}

func startEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	e := &env{t: t, topics: map[string]string{}, descs: map[string]protoreflect.MessageDescriptor{},
		index: descstore.Index{Events: map[string]descstore.Entry{}}}
	e.kafka = o.kafka
	if e.kafka == nil {
		e.kafka = kafkatest.Start(t)
	}
	e.kopts = []kgo.Opt{kgo.SeedBrokers(e.kafka.Addrs...),
		kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: e.kafka.AdminPassword}.AsSha256Mechanism())}
	st, err := blob.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	for _, id := range o.publish {
		e.publish(id)
	}
	e.tokens = map[string]string{"growth": "tok-growth", "payments": "tok-payments"}
	cfg := Config{
		Store: st, Kafka: e.kopts, Poll: 50 * time.Millisecond, Tokens: e.tokens,
		Producers:       func(id string) []string { return e.producers(id) },
		Keys:            func(id string) []string { return e.keys(id) },
		CORSOrigins:     []string{"https://app.example.com"},
		DeliveryTimeout: 2 * time.Second,
		Logger:          slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	if os.Getenv("EVCTL_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gw, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gw
	if o.debug {
		if err := gw.ServeDebug("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ctx, ln) }()
	e.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		gw.Close()
	}
	t.Cleanup(e.stop)
	e.client = &http.Client{Timeout: 30 * time.Second}
	return e
}

func (e *env) producers(id string) []string {
	ev := e.workspaceEvent(id)
	if ev == nil {
		return nil
	}
	return ev.Access.Producers
}

func (e *env) keys(id string) []string {
	ev := e.workspaceEvent(id)
	if ev == nil || ev.Sinks.Kafka == nil {
		return nil
	}
	return ev.Sinks.Kafka.Key
}

func (e *env) workspaceEvent(id string) *contract.Event {
	r, err := contracts()
	if err != nil {
		return nil
	}
	return r.ws.Event(id)
}

// publish writes an event's set and index entry, and creates its topic.
func (e *env) publish(id string) {
	e.t.Helper()
	r, err := contracts()
	if err != nil {
		e.t.Fatal(err)
	}
	rep := r.rep
	md, ok := rep.Compiled.Messages[id]
	if !ok {
		e.t.Fatalf("no compiled contract %s", id)
	}
	set, err := compile.Marshal(compile.FileSet(rep.Compiled, []string{id}))
	if err != nil {
		e.t.Fatal(err)
	}
	sha := compile.SHA256(set)
	ctx := context.Background()
	if _, err := e.store.Put(ctx, descstore.SetKey(sha), set, blob.PutOpts{}); err != nil {
		e.t.Fatal(err)
	}
	topic := "test." + strings.ReplaceAll(id, "/", ".") + ".v1"
	e.topics[id], e.descs[id] = topic, md
	e.index.Events[id] = descstore.Entry{Message: string(md.FullName()), Topic: topic, SHA256: sha, Stage: "prod"}
	e.writeIndex()
	adm := e.admin()
	defer adm.Close()
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil && !strings.Contains(err.Error(), "EXISTS") {
		e.t.Fatal(err)
	}
}

func (e *env) writeIndex() {
	b, _ := json.Marshal(e.index)
	if _, err := e.store.Put(context.Background(), descstore.IndexKey, b, blob.PutOpts{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) admin() *kadm.Client {
	cl, err := kgo.NewClient(e.kopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return kadm.NewClient(cl)
}

// post sends a request and returns the status, the decoded JSON body and the headers.
func (e *env) post(path, token, contentType string, body []byte) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// consume reads every record of a topic currently in it.
func (e *env) consume(topic string) []*kgo.Record {
	e.t.Helper()
	cl, err := kgo.NewClient(append(e.kopts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		e.t.Fatal(err)
	}
	want := int64(0)
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	var recs []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for int64(len(recs)) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("consumed %d of %d records of %s", len(recs), want, topic)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}

// decode unmarshals a record value with the event's descriptor.
func (e *env) decode(id string, value []byte) *dynamicpb.Message {
	e.t.Helper()
	m := dynamicpb.NewMessage(e.descs[id])
	if err := proto.Unmarshal(value, m); err != nil {
		e.t.Fatal(err)
	}
	return m
}
