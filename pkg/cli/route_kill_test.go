package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

const killConsumer = `name: crm
owner: {team: analytics}
description: Receives every click.
events: [feed/item_clicked]
transform: '{"item": {{json .item_id}}, "id": {{json .event_id}}}'
deliver:
  http: {url_env: CRM_URL, timeout: 5s}
retry: {max_attempts: 5, backoff: 50ms, max_backoff: 1s}
`

// idemReceiver is a loopback HTTP receiver that drops repeats by Idempotency-Key, as a
// receiver of an at-least-once stream does, and remembers the first-seen order of items.
type idemReceiver struct {
	mu      sync.Mutex
	seen    map[string]bool
	order   []string // item ids, first deliveries only
	repeats int
	v2      int // first deliveries rendered by the changed template
}

func (r *idemReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var body struct {
		Item, ID string
		V        int
	}
	if err := json.Unmarshal(b, &body); err != nil || body.ID != req.Header.Get("Idempotency-Key") {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	time.Sleep(time.Millisecond) // a receiver that takes a moment, so kills land mid-stream
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[body.ID] {
		r.repeats++
	} else {
		r.seen[body.ID] = true
		r.order = append(r.order, body.Item)
		if body.V == 2 {
			r.v2++
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (r *idemReceiver) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

// TestRouteKill9AtLeastOnce builds the evctl binary, applies a consumer (which publishes its
// definition), and runs `evctl route` as a separate process against kfake and a loopback
// receiver, killing it with SIGKILL twice mid-stream and restarting it. Nothing is missing,
// each key's events arrive in order (first deliveries), and what was delivered but not yet
// committed when the process died arrives again with the same Idempotency-Key. Then the
// template is changed and applied while the process runs: it reloads the published definition
// (gateway.poll) and the next events are rendered by the new template, without a restart.
func TestRouteKill9AtLeastOnce(t *testing.T) {
	e := newPAEnv(t)
	// The route process polls the published definitions every 200ms (gateway.poll).
	e.writeFile("evctl.yaml", fmt.Sprintf(paConfig, e.kc.Addrs[0])+"    gateway: {poll: 200ms}\n")
	e.writeFile("consumers/crm.yaml", killConsumer)
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")

	bin := filepath.Join(t.TempDir(), "evctl")
	build := exec.Command("go", "build", "-o", bin, "github.com/evctl/evctl/cmd/evctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// Produce N events over 10 keys with the published descriptor set, as the gateway would.
	const n = 6000
	ctx := t.Context()
	store, err := blob.Open(ctx, "file://"+filepath.Join(e.dir, ".evctl/descriptors"))
	if err != nil {
		t.Fatal(err)
	}
	idx, _, err := descstore.ReadIndex(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	entry := idx.Events["feed/item_clicked"]
	md := loadMessage(t, store, entry)
	opts := []kgo.Opt{kgo.SeedBrokers(e.kc.Addrs...), kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: e.kc.AdminPassword}.AsSha256Mechanism())}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			m := dynamicpb.NewMessage(md)
			key := fmt.Sprintf("k%d", i%10)
			set := func(name, v string) {
				m.Set(md.Fields().ByName(protoreflect.Name(name)), protoreflect.ValueOfString(v))
			}
			set("item_id", fmt.Sprintf("%s/%d", key, i/10))
			set("event_id", fmt.Sprintf("ev-%d", i))
			v, _ := proto.Marshal(m)
			recs = append(recs, &kgo.Record{Topic: entry.Topic, Key: []byte(key), Value: v, Headers: []kgo.RecordHeader{
				{Key: descstore.HeaderEvent, Value: []byte("feed/item_clicked")}, {Key: descstore.HeaderSchema, Value: []byte(entry.SHA256)}}})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, n)

	rcv := &idemReceiver{seen: map[string]bool{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "route", "--env", "local", "--session-timeout", "6s")
		cmd.Dir = e.dir
		cmd.Env = append(os.Environ(), "EVCTL_KAFKA_USER="+kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD="+e.kc.AdminPassword, "CRM_URL="+srv.URL+"/hook")
		cmd.Stderr = &lockedBuffer{}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	waitFor := func(want int) {
		deadline := time.Now().Add(3 * time.Minute) // stops a hung test only
		for rcv.distinct() < want {
			if time.Now().After(deadline) {
				t.Fatalf("receiver has %d distinct events, want %d", rcv.distinct(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, at := range []int{n / 4, n / 2} {
		cmd := start()
		waitFor(at)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		t.Logf("killed at %d distinct deliveries (%d repeats so far)", rcv.distinct(), rcv.repeats)
	}
	cmd := start()
	waitFor(n)

	// A changed template, applied while evctl route runs, is picked up without a restart.
	e.writeFile("consumers/crm.yaml", strings.Replace(killConsumer, `{"item":`, `{"v": 2, "item":`, 1))
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")
	logs := cmd.Stderr.(*lockedBuffer)
	deadline := time.Now().Add(time.Minute) // stops a hung test only
	for !strings.Contains(logs.String(), "consumer definition reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("evctl route did not reload the applied definition:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	produce(n, n+100)
	waitFor(n + 100)
	if rcv.v2 != 100 {
		t.Errorf("%d of the 100 events produced after the reload used the changed template", rcv.v2)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("evctl route after SIGTERM: %v\n%s", err, cmd.Stderr)
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	last := map[string]int{}
	for _, item := range rcv.order {
		key, num, _ := strings.Cut(item, "/")
		i, _ := strconv.Atoi(num)
		if want := last[key]; i != want {
			t.Fatalf("key %s: event %d delivered first where %d was next (out of order or missing)", key, i, want)
		}
		last[key] = i + 1
	}
	if len(rcv.order) != n+100 {
		t.Fatalf("%d distinct events delivered, want %d", len(rcv.order), n+100)
	}
	t.Logf("%d events delivered once each after dropping %d repeats by Idempotency-Key", n+100, rcv.repeats)
}

// loadMessage reads the event's message from the published descriptor set.
func loadMessage(t *testing.T, store blob.Store, e descstore.Entry) protoreflect.MessageDescriptor {
	t.Helper()
	b, err := descstore.ReadSet(t.Context(), store, e.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(b, set); err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(e.Message))
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

// lockedBuffer collects a child's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
