package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/data/gateway"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

const clickedTopic = "local.feed.item_clicked.v1"

func (e *paEnv) kafkaOpts() []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(e.kc.Addrs...),
		kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: e.kc.AdminPassword}.AsSha256Mechanism())}
}

// startGateway runs the gateway in-process on a loopback port over the environment's
// descriptor store and returns its URL.
func (e *paEnv) startGateway() string {
	e.t.Helper()
	store, err := blob.Open(context.Background(), "file://"+filepath.Join(e.dir, ".evctl", "descriptors"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { store.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	gw, err := gateway.New(ctx, gateway.Config{Store: store, Kafka: e.kafkaOpts(), Poll: time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ctx, ln) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("gateway: %v", err)
		}
		gw.Close()
	})
	return "http://" + ln.Addr().String()
}

// tailLines runs evctl tail and decodes its JSON lines.
func (e *paEnv) tailLines(args ...string) []map[string]any {
	e.t.Helper()
	out, _ := e.mustRun(0, append([]string{"tail", "feed/item_clicked", "--env", "local"}, args...)...)
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			e.t.Fatalf("tail printed a line that is not one JSON object: %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestTailAndDescribeLive: records sent through the gateway are decoded by tail; a corrupt
// value and an unknown schema are shown with the reason; describe shows the lag of a group
// that read half the topic, the resources' status and the audit records.
func TestTailAndDescribeLive(t *testing.T) {
	e := newPAEnv(t)
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")
	url := e.startGateway()
	const sent = 6
	for i := range sent {
		body := fmt.Sprintf(`{"item_id":"item-%d","event_time":"2026-11-01T10:00:0%dZ"}`, i, i)
		resp, err := http.Post(url+"/v1/events/feed/item_clicked", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("gateway: %s for %s", resp.Status, body)
		}
	}
	if got := e.tailLines("--from-beginning"); len(got) != sent {
		t.Fatalf("tail --from-beginning: %d lines, want %d: %v", len(got), sent, got)
	}

	// Two records written by hand: a corrupt value under the published schema, and a schema
	// the descriptor store does not have.
	idx, _, err := descstore.ReadIndex(context.Background(), e.descriptorStore())
	if err != nil {
		t.Fatal(err)
	}
	sha := idx.Events["feed/item_clicked"].SHA256
	cl, err := kgo.NewClient(e.kafkaOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	hdr := func(schema string) []kgo.RecordHeader {
		return []kgo.RecordHeader{{Key: descstore.HeaderEvent, Value: []byte("feed/item_clicked")},
			{Key: descstore.HeaderSchema, Value: []byte(schema)}, {Key: descstore.HeaderContentType, Value: []byte(descstore.ContentType)}}
	}
	if err := cl.ProduceSync(context.Background(),
		&kgo.Record{Topic: clickedTopic, Partition: 0, Value: []byte("\xff\xff not protobuf"), Headers: hdr(sha)},
		&kgo.Record{Topic: clickedTopic, Value: []byte{0x0a, 0x01, 'x'}, Headers: hdr(strings.Repeat("0", 64))},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}

	lines := e.tailLines("--from-beginning")
	if len(lines) != sent+2 {
		t.Fatalf("tail: %d lines, want %d", len(lines), sent+2)
	}
	decoded, corrupt, unknown := 0, 0, 0
	for _, l := range lines {
		for _, k := range []string{"offset", "partition", "key", "timestamp", "schema"} {
			if _, ok := l[k]; !ok {
				t.Errorf("line lacks %q: %v", k, l)
			}
		}
		errText, _ := l["error"].(string)
		switch {
		case l["event"] != nil:
			ev := l["event"].(map[string]any)
			if !strings.HasPrefix(fmt.Sprint(ev["item_id"]), "item-") || ev["event_id"] == nil || l["schema"] != sha {
				t.Errorf("decoded record %v", l)
			}
			decoded++
		case strings.Contains(errText, "corrupt value"):
			corrupt++
		case strings.Contains(errText, "unknown schema"):
			unknown++
		default:
			t.Errorf("unexpected line %v", l)
		}
	}
	if decoded != sent || corrupt != 1 || unknown != 1 {
		t.Fatalf("decoded %d, corrupt %d, unknown schema %d", decoded, corrupt, unknown)
	}
	if got := e.tailLines("-n", "3"); len(got) != 3 {
		t.Fatalf("tail -n 3: %d lines", len(got))
	}

	// A consumer in group growth.test reads half the topic and commits.
	total := sent + 2
	consumer, err := kgo.NewClient(append(e.kafkaOpts(), kgo.ConsumerGroup("growth.test"),
		kgo.ConsumeTopics(clickedTopic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	var read []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for len(read) < total {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		read = append(read, fs.Records()...)
	}
	// The first half as polled: a prefix of each partition, so the committed offsets leave
	// exactly total-half records unread.
	half := total / 2
	if err := consumer.CommitRecords(ctx, read[:half]...); err != nil {
		t.Fatal(err)
	}
	consumer.Close()

	out, _ := e.mustRun(0, "describe", "feed/item_clicked", "--env", "local", "--sample", "1ms", "-o", "json")
	var r struct {
		Env    string `json:"env"`
		Hosted bool   `json:"hosted"`
		Sinks  []struct {
			Kind, Name, Status string
		} `json:"sinks"`
		Groups []struct {
			Group      string `json:"group"`
			Lag        int64  `json:"lag"`
			Partitions []struct {
				Partition      int32
				Committed, End int64
			} `json:"partitions"`
		} `json:"consumer_groups"`
		Throughput *struct {
			EndOffset int64 `json:"end_offset"`
		} `json:"throughput"`
		Audit  []map[string]any `json:"audit"`
		Errors []string         `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("describe -o json: %v\n%s", err, out)
	}
	if r.Env != "local" || !r.Hosted || len(r.Errors) != 0 {
		t.Fatalf("describe: env %q hosted %v errors %v", r.Env, r.Hosted, r.Errors)
	}
	kinds := map[string]string{}
	for _, s := range r.Sinks {
		kinds[s.Kind] = s.Status
		if s.Status != "ok" {
			t.Errorf("sink %s %s: status %q, want ok", s.Kind, s.Name, s.Status)
		}
	}
	if len(kinds) != 4 {
		t.Errorf("sinks %v: want descriptor, kafka_topic, kafka_acl, kafka_dlq_topic", r.Sinks)
	}
	if len(r.Groups) != 1 || r.Groups[0].Group != "growth.test" || r.Groups[0].Lag != int64(total-half) {
		t.Fatalf("consumer groups %+v: want growth.test with lag %d", r.Groups, total-half)
	}
	if r.Throughput == nil || r.Throughput.EndOffset != int64(total) {
		t.Fatalf("throughput %+v: want end offset %d", r.Throughput, total)
	}
	if len(r.Audit) != 1 {
		t.Fatalf("audit %v: want the one apply", r.Audit)
	}
	text, _ := e.mustRun(0, "describe", "feed/item_clicked", "--env", "local", "--sample", "0")
	for _, want := range []string{"growth.test", fmt.Sprintf("lag %d", total-half), "audit (1):"} {
		if !strings.Contains(text, want) {
			t.Errorf("describe text lacks %q:\n%s", want, text)
		}
	}
	if !regexp.MustCompile(`kafka_topic +` + regexp.QuoteMeta(clickedTopic) + ` +ok `).MatchString(text) {
		t.Errorf("describe text lacks the topic ok:\n%s", text)
	}
}

func (e *paEnv) descriptorStore() blob.Store {
	e.t.Helper()
	s, err := blob.Open(context.Background(), "file://"+filepath.Join(e.dir, ".evctl", "descriptors"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}
