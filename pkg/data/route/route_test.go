package route_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

const (
	eventID = "identity/step_completed"
	topic   = "local.identity.step_completed.v1"
	env     = "local"
)

const schema = `syntax = "proto3";
package identity.v1;
import "google/protobuf/timestamp.proto";
enum Step { STEP_UNSPECIFIED = 0; KYC = 1; PROFILE = 2; }
message StepCompleted {
  optional string event_id = 1;
  google.protobuf.Timestamp event_time = 2;
  optional string user = 3;
  optional Step step = 4;
  optional int64 n = 5;
}
`

const consumerYAML = `name: crm
owner: {team: growth}
events: [identity/step_completed]
where: {step: KYC}
transform: |
  {"user": {{json .user}}, "n": {{json .n}}, "step": {{json .step}}, "ms": {{toUnixMillis .event_time}}}
deliver:
  http: {url_env: CRM_URL, method: POST, timeout: 2s, max_rps: 500, headers: {X-Source: evctl}}
retry: {max_attempts: 4, backoff: 10ms, max_backoff: 2s}
`

func compileSchema(t *testing.T) (protoreflect.MessageDescriptor, []byte) {
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

// receiver is a real HTTP server on loopback: it answers 503 to the first failFirst requests,
// 429 with Retry-After: 1 to user u2's first request, 400 to user "bad", 503 always to user
// "down", and 2xx otherwise, recording what it accepted.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	seen      int
	u2Limited bool
	accepted  []request
	attempts  map[string]int // by Idempotency-Key
}

type request struct {
	Body                                  map[string]any
	ContentType, Key, Event, Source, User string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen++
	key := req.Header.Get("Idempotency-Key")
	r.attempts[key]++
	user, _ := body["user"].(string)
	switch {
	case r.seen <= r.failFirst:
		http.Error(w, "warming up", http.StatusServiceUnavailable)
	case user == "u2" && !r.u2Limited:
		r.u2Limited = true
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case user == "bad":
		http.Error(w, "no such user", http.StatusBadRequest)
	case user == "down":
		http.Error(w, "backend down", http.StatusBadGateway)
	default:
		r.accepted = append(r.accepted, request{Body: body, ContentType: req.Header.Get("Content-Type"), Key: key,
			Event: req.Header.Get("evctl-event"), Source: req.Header.Get("X-Source"), User: user})
		w.WriteHeader(http.StatusAccepted)
	}
}

func TestRouteDeliversRetriesAndDeadLetters(t *testing.T) {
	md, set := compileSchema(t)
	sum := sha256.Sum256(set)
	sha := hex.EncodeToString(sum[:])

	kc := kafkatest.Start(t, kfake.GroupMinSessionTimeout(500*time.Millisecond))
	opts := []kgo.Opt{kgo.SeedBrokers(kc.Addrs...), kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: kc.AdminPassword}.AsSha256Mechanism())}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := t.Context()
	for _, tp := range []string{topic, worker.DLQTopic(topic), route.DLQTopic(env, "crm")} {
		if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, tp); err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", tp, err, resp.Err)
		}
	}
	descDir := t.TempDir()
	store, err := blob.Open(ctx, "file://"+descDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, descstore.SetKey(sha), set, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	idx, _ := json.Marshal(descstore.Index{Events: map[string]descstore.Entry{eventID: {Message: string(md.FullName()), Topic: topic, SHA256: sha, Stage: "prod"}}})
	if _, err := store.Put(ctx, descstore.IndexKey, idx, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}

	// Events: u1 and u2 five each (in order per key), PROFILE steps that the filter drops, one
	// for "bad" (400) and one for "down" (502 until max_attempts).
	type ev struct {
		user, step string
		n          int
	}
	var evs []ev
	for n := 1; n <= 5; n++ {
		evs = append(evs, ev{"u1", "KYC", n}, ev{"u2", "KYC", n}, ev{"u1", "PROFILE", 100 + n})
	}
	evs = append(evs, ev{"bad", "KYC", 1}, ev{"down", "KYC", 1})
	values := map[string][]byte{}
	for i, e := range evs {
		m := dynamicpb.NewMessage(md)
		js := fmt.Sprintf(`{"event_id":"e-%d","event_time":"2026-11-01T10:00:00Z","user":%q,"step":%q,"n":"%d"}`, i, e.user, e.step, e.n)
		if err := protojson.Unmarshal([]byte(js), m); err != nil {
			t.Fatal(err)
		}
		v, _ := proto.Marshal(m)
		values[fmt.Sprintf("e-%d", i)] = v
		r := &kgo.Record{Topic: topic, Key: []byte(e.user), Value: v, Headers: []kgo.RecordHeader{
			{Key: worker.HeaderEvent, Value: []byte(eventID)}, {Key: worker.HeaderSchema, Value: []byte(sha)}}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	rcv := &receiver{failFirst: 2, attempts: map[string]int{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()

	c, diags := consumer.Parse("consumers/crm.yaml", []byte(consumerYAML))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	var handler *route.Handler
	var hmu sync.Mutex
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- route.Run(rctx, route.RunConfig{Env: env, Kafka: opts, Descriptors: store,
			Routes: []route.Route{{Consumer: c, Topics: map[string]string{eventID: topic}, URL: srv.URL + "/hook"}},
			Tune: func(wc *worker.Config) {
				wc.PollInterval, wc.MinBackoff, wc.MaxBackoff = 100*time.Millisecond, 10*time.Millisecond, 200*time.Millisecond
			},
			Started: func(h *route.Handler) { hmu.Lock(); handler = h; hmu.Unlock() }})
	}()

	// Read the DLQ until both failures are there.
	dlq, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(route.DLQTopic(env, "crm")), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Close()
	dead := map[string]*kgo.Record{}
	deadline := time.Now().Add(2 * time.Minute) // stops a hung test only
	for len(dead) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("DLQ holds %d records, want 2", len(dead))
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := dlq.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { dead[string(r.Key)] = r })
	}
	// Wait until the receiver accepted all ten KYC events of u1 and u2.
	for {
		rcv.mu.Lock()
		n := len(rcv.accepted)
		rcv.mu.Unlock()
		if n >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver accepted %d, want 10", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("route.Run: %v", err)
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	last := map[string]float64{}
	for _, r := range rcv.accepted {
		if r.ContentType != "application/json" || r.Event != eventID || r.Source != "evctl" || !strings.HasPrefix(r.Key, "e-") {
			t.Errorf("headers: %+v", r)
		}
		n, _ := r.Body["n"].(float64)
		if n <= last[r.User] {
			t.Errorf("user %s: n %v delivered after %v (out of order or twice)", r.User, n, last[r.User])
		}
		last[r.User] = n
		if r.Body["step"] != "KYC" || r.Body["ms"] != float64(1793527200000) {
			t.Errorf("body rendered wrong: %v", r.Body)
		}
	}
	if last["u1"] != 5 || last["u2"] != 5 {
		t.Errorf("last delivered: %v, want u1 and u2 at 5", last)
	}
	if !rcv.u2Limited {
		t.Error("u2 was never answered 429")
	}

	hdr := func(r *kgo.Record, k string) string {
		for _, h := range r.Headers {
			if h.Key == k {
				return string(h.Value)
			}
		}
		return ""
	}
	bad, down := dead["bad"], dead["down"]
	if bad == nil || down == nil {
		t.Fatalf("DLQ keys: %v", dead)
	}
	if hdr(bad, route.HeaderDLQAttempts) != "1" || hdr(bad, route.HeaderDLQLastStatus) != "400" || !strings.Contains(hdr(bad, route.HeaderDLQReason), "no such user") {
		t.Errorf("bad: attempts %s status %s reason %q", hdr(bad, route.HeaderDLQAttempts), hdr(bad, route.HeaderDLQLastStatus), hdr(bad, route.HeaderDLQReason))
	}
	if hdr(down, route.HeaderDLQAttempts) != "4" || hdr(down, route.HeaderDLQLastStatus) != "502" || !strings.Contains(hdr(down, route.HeaderDLQReason), "backend down") {
		t.Errorf("down: attempts %s status %s reason %q", hdr(down, route.HeaderDLQAttempts), hdr(down, route.HeaderDLQLastStatus), hdr(down, route.HeaderDLQReason))
	}
	for _, r := range []*kgo.Record{bad, down} {
		if id := hdr(r, "evctl-dlq-offset"); id == "" || hdr(r, worker.HeaderSchema) != sha {
			t.Errorf("DLQ record lacks its origin headers: %v", r.Headers)
		}
		found := false
		for _, v := range values {
			if bytes.Equal(v, r.Value) {
				found = true
			}
		}
		if !found {
			t.Error("DLQ record does not carry the original bytes")
		}
	}
	hmu.Lock()
	st := handler.Stats()
	hmu.Unlock()
	if st.Filtered != 5 || st.DeadLettered != 2 || st.Delivered != 10 || st.Retries < 3+1 { // down three times, u2 once; the first two 503s may fall on down
		t.Errorf("stats %+v", st)
	}
}
