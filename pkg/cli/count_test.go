package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/cli"
	"github.com/evctl/evctl/pkg/data/count"
	"github.com/evctl/evctl/pkg/data/count/readcache"
	"github.com/evctl/evctl/pkg/data/counterstore/redis/redistest"
	"github.com/evctl/evctl/pkg/data/counterstore/stores"
	"github.com/evctl/evctl/pkg/data/gateway"
	"github.com/evctl/evctl/pkg/storage/blob"
)

const likedEvent = `name: post_liked
domain: feed
owner: {team: growth, pod: feed}
description: A user liked or unliked a post.
stage: staging
major: 1
schema:
  fields:
    - {name: post_id, type: string, mode: required, number: 1}
    - {name: action, type: enum, values: [LIKE, UNLIKE], number: 2}
sinks:
  kafka: {partitions: 2, retention: 1d, key: [post_id]}
access: {producers: [growth], consumers: [analytics]}
counters:
  - name: post_likes
    key: post_id
    where: {action: LIKE}
    sum: 1
    windows:
      - {below: 1000, every: 1s}
      - {every: 5s}
    milestones: [3, 5, 100]
`

// TestCountEndToEnd: likes posted through the gateway are counted by `evctl count` (run
// in-process), read back by `evctl counters get` (text and JSON) and the gateway's counter
// route, and milestones 3 and 5 are produced once each. kfake, the gateway and redis-server are
// real; apply provisions the changelog and milestones topics (kafka_counter_topic), which the
// test checks, and after the worker ran a plan has nothing to do and nothing unmanaged.
func TestCountEndToEnd(t *testing.T) {
	e := newPAEnv(t)
	redisURL := redistest.Start(t).URL(0)
	e.writeFile("evctl.yaml", fmt.Sprintf(paConfig, e.kc.Addrs[0])+"    counters: {store: \""+redisURL+"\"}\n")
	e.writeFile("contracts/feed/post_liked.yaml", likedEvent)
	if out, _ := e.mustRun(0, "apply", "--env", "local", "--auto-approve"); !strings.Contains(out, "kafka_counter_topic") {
		t.Fatalf("apply does not provision the counter topics:\n%s", out)
	}
	ctx := context.Background()
	store, err := stores.Open(ctx, redisURL, e.dir, "local", "")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// The gateway reads through the changelog-fed cache, as `evctl gateway` does: the route's
	// value below comes from the count worker's changelog record.
	cache, err := readcache.Start(ctx, readcache.Config{Store: store, Kafka: e.kafkaOpts(),
		Changelogs: map[string]string{"post_likes": count.ChangelogTopic("local", "post_likes")}})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	gwURL := e.startCounterGateway(cache)

	// evctl count, in-process until cancelled.
	cctx, stop := context.WithCancel(ctx)
	var countErr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		io := &cli.IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &countErr,
			Getenv: func(k string) string { return e.vars[k] }, WorkDir: e.dir}
		done <- cli.Run(cctx, io, []string{"count", "--env", "local"})
	}()
	defer func() {
		stop()
		if code := <-done; code != 0 {
			t.Errorf("count exited %d:\n%s", code, countErr.String())
		}
	}()
	for i := 0; i < 7; i++ {
		action := "LIKE"
		if i == 6 {
			action = "UNLIKE"
		}
		body := fmt.Sprintf(`{"post_id":"p1","action":%q,"event_id":"e%d","event_time":"2026-11-01T10:00:00Z"}`, action, i)
		resp, err := http.Post(gwURL+"/v1/events/feed/post_liked", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("post: %d %s", resp.StatusCode, msg.String())
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		out, _ := e.mustRun(0, "counters", "get", "post_likes", "p1", "nobody", "--env", "local")
		if out == "p1 6\nnobody 0\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters get: %q after a minute; count said:\n%s", out, countErr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, _ := e.mustRun(0, "counters", "get", "post_likes", "p1", "--env", "local", "-o", "json")
	if strings.TrimSpace(out) != `[{"counter":"post_likes","key":"p1","value":6}]` {
		t.Fatalf("counters get -o json: %s", out)
	}
	if _, errOut := e.mustRun(1, "counters", "get", "nope", "p1", "--env", "local"); !strings.Contains(errOut, "unknown counter") {
		t.Fatalf("unknown counter: %s", errOut)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(gwURL + "/v1/counters/post_likes/p1")
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if resp.StatusCode == 200 && v["value"] == float64(6) && cache.Stats().Hits > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway route: %d %v (cache %+v)", resp.StatusCode, v, cache.Stats())
		}
	}
	cl, err := kgo.NewClient(e.kafkaOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, count.ChangelogTopic("local", "post_likes"))
	if err != nil {
		t.Fatal(err)
	}
	compacted := false
	if v, err := td.On(count.ChangelogTopic("local", "post_likes"), nil); err == nil {
		for _, c := range v.Configs {
			compacted = compacted || c.Key == "cleanup.policy" && c.MaybeValue() == "compact"
		}
	}
	if !compacted {
		t.Error("the changelog topic is not compacted")
	}
	// The worker found its topics made by apply: nothing to change, none unmanaged.
	e.mustRun(0, "plan", "--env", "local", "--detailed-exitcode")
	if code, out, errOut := e.run("drift", "--env", "local"); code != 0 || strings.Contains(out, ".counters.") {
		t.Fatalf("drift after the worker ran: exit %d\n%s%s", code, out, errOut)
	}
	// describe shows the counter, the count group's lag and the write reduction.
	var desc struct {
		Counters []struct {
			Name string `json:"name"`
		} `json:"counters"`
		Live *struct {
			Group  string       `json:"group"`
			Lag    int64        `json:"lag"`
			Totals count.Totals `json:"totals"`
		} `json:"counters_live"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		out, _ := e.mustRun(0, "describe", "feed/post_liked", "--env", "local", "--sample", "0", "-o", "json")
		if err := json.Unmarshal([]byte(out), &desc); err != nil {
			t.Fatalf("describe -o json: %v", err)
		}
		if desc.Live != nil && desc.Live.Lag == 0 && desc.Live.Totals.Counted == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("describe counters: %s", out)
		}
	}
	if len(desc.Counters) != 1 || desc.Counters[0].Name != "post_likes" || desc.Live.Group != "evctl.local.count" || desc.Live.Totals.KeyWrites != 1 {
		t.Fatalf("describe counters: %+v %+v", desc.Counters, desc.Live)
	}
	if out, _ := e.mustRun(0, "describe", "feed/post_liked", "--env", "local", "--sample", "0"); !strings.Contains(out, "group evctl.local.count: lag 0; 6 counted, 1 key writes (6.0 events per write)") {
		t.Fatalf("describe text:\n%s", out)
	}
	ms, err := count.CompileMilestone(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]int{}
	rc, err := kgo.NewClient(append(e.kafkaOpts(), kgo.ConsumeTopics(count.MilestonesTopic("local")),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for n := 0; n < 2; {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		fs := rc.PollFetches(pctx)
		timedOut := pctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("milestones: %v after %d records", got, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			m, err := ms.Decode(r.Value)
			if err != nil || m.Key != "p1" || m.Counter != "post_likes" {
				t.Fatalf("milestone record: %+v %v", m, err)
			}
			got[m.Milestone]++
			n++
		})
	}
	if fmt.Sprint(got) != "map[3:1 5:1]" {
		t.Fatalf("milestones %v, want 3 and 5 once each", got)
	}
	// evctl tail decodes them with the published milestone contract.
	out, _ = e.mustRun(0, "tail", count.MilestoneEvent, "--env", "local", "--from-beginning")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("tail of milestones: %q", out)
	}
	for _, l := range lines {
		var line struct {
			Error string `json:"error"`
			Event struct {
				Counter   string `json:"counter"`
				Key       string `json:"key"`
				Milestone string `json:"milestone"` // int64 is a JSON string in protojson
				ReachedAt string `json:"reached_at"`
			} `json:"event"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil || line.Error != "" || line.Event.Counter != "post_likes" ||
			line.Event.Key != "p1" || (line.Event.Milestone != "3" && line.Event.Milestone != "5") || line.Event.ReachedAt == "" {
			t.Fatalf("tail line %s: %+v %v", l, line, err)
		}
	}
}

// startCounterGateway runs the gateway (no tokens: local) with the counter route over store.
func (e *paEnv) startCounterGateway(store gateway.CounterReader) string {
	e.t.Helper()
	desc, err := blob.Open(context.Background(), "file://"+filepath.Join(e.dir, ".evctl", "descriptors"))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gw, err := gateway.New(ctx, gateway.Config{Store: desc, Kafka: e.kafkaOpts(), Poll: time.Hour,
		Keys: func(id string) []string {
			if id == "feed/post_liked" {
				return []string{"post_id"}
			}
			return nil
		},
		Counters: &gateway.Counters{Store: store, Known: func(n string) bool { return n == "post_likes" }}})
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- gw.Serve(ctx, ln) }()
	e.t.Cleanup(func() {
		cancel()
		<-served
		gw.Close()
	})
	url := "http://" + ln.Addr().String()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var body bytes.Buffer
		if resp, err := http.Get(url + "/readyz"); err == nil {
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("gateway not ready after 30s: %s", body.String())
		}
	}
	return url
}
