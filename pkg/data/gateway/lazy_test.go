package gateway

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// countingStore is the test's file:// store, counting the gateway's reads of each key: the
// store is real, only the reads are tallied.
type countingStore struct {
	blob.Store
	mu   sync.Mutex
	gets map[string]int
}

func countReads(st blob.Store) *countingStore {
	return &countingStore{Store: st, gets: map[string]int{}}
}

func (c *countingStore) Get(ctx context.Context, key string) ([]byte, blob.Gen, error) {
	c.mu.Lock()
	c.gets[key]++
	c.mu.Unlock()
	return c.Store.Get(ctx, key)
}

// setReads returns how many times sets were read, and which sets.
func (c *countingStore) setReads() (int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, by := 0, map[string]int{}
	for k, v := range c.gets {
		if strings.HasPrefix(k, descstore.SetsPrefix) {
			n += v
			by[k] = v
		}
	}
	return n, by
}

// counted starts a gateway over e's store with its reads counted.
func counted(t *testing.T, publish []string, tune func(*Config)) (*env, *countingStore) {
	var cs *countingStore
	e := startEnv(t, envOpts{publish: publish, cfg: func(c *Config) {
		cs = countReads(c.Store)
		c.Store = cs
		if tune != nil {
			tune(c)
		}
	}})
	return e, cs
}

// edit republishes id with a changed description (a comment in its set), as `evctl apply`
// publishes an edited contract: a new set under its new sha256, then the index entry. It returns
// the new sha256.
func (e *env) edit(id, description string) string {
	e.t.Helper()
	ctx := context.Background()
	old, _, err := e.store.Get(ctx, descstore.SetKey(e.index.Events[id].SHA256))
	if err != nil {
		e.t.Fatal(err)
	}
	fds := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(old, fds); err != nil {
		e.t.Fatal(err)
	}
	own := fds.File[len(fds.File)-1]
	if own.SourceCodeInfo == nil {
		own.SourceCodeInfo = &descriptorpb.SourceCodeInfo{}
	}
	own.SourceCodeInfo.Location = append(own.SourceCodeInfo.Location, &descriptorpb.SourceCodeInfo_Location{
		Path: []int32{4, 0}, Span: []int32{0, 0, 1}, LeadingComments: proto.String(description),
	})
	set, err := proto.MarshalOptions{Deterministic: true}.Marshal(fds)
	if err != nil {
		e.t.Fatal(err)
	}
	sha := descstore.SHA256(set)
	if _, err := e.store.Put(ctx, descstore.SetKey(sha), set, blob.PutOpts{}); err != nil {
		e.t.Fatal(err)
	}
	entry := e.index.Events[id]
	entry.SHA256 = sha
	e.index.Events[id] = entry
	return sha
}

const completed = "feed/video_completed"

func completedJSON() []byte {
	return []byte(`{"video_id":"v","session_id":"s","completion_ratio":0.5,"event_time":"2026-11-01T10:00:00Z"}`)
}

func (e *env) ready() ReadyStatus {
	e.t.Helper()
	resp, err := http.Get(e.url + "/readyz")
	if err != nil {
		e.t.Fatal(err)
	}
	var rs ReadyStatus
	decodeJSON(e.t, resp, &rs)
	return rs
}

func (e *env) mustAccept(id string, body []byte) {
	e.t.Helper()
	if st, resp, _ := e.post("/v1/events/"+id, "tok-growth", "application/json", body); st != http.StatusAccepted {
		e.t.Fatalf("%s: %d %v", id, st, resp)
	}
}

// waitReload waits for a registry generation after gen and returns it.
func (e *env) waitReload(gen int64) *Snapshot {
	e.t.Helper()
	var s *Snapshot
	waitFor(e.t, "a reload", func() bool {
		s = e.gw.Registry().Current()
		return s.Generation > gen
	})
	return s
}

// TestRegistryLoadsOnFirstRequestAndReloadsWhatChanged: at start the gateway reads index.json
// and no set; each event's set is read on its first request, once; a reload after one event in
// use changed reads that one set, and an unused event that changed is read only when used.
func TestRegistryLoadsOnFirstRequestAndReloadsWhatChanged(t *testing.T) {
	const unused = "identity/login_failed"
	e, cs := counted(t, []string{played, completed, "feed/feed_scrolled", unused}, nil)
	if n, by := cs.setReads(); n != 0 {
		t.Fatalf("%d set reads at start, want none: %v", n, by)
	}
	if rs := e.ready(); !rs.Ready || rs.Events != 4 || rs.Loaded != 0 {
		t.Fatalf("readyz at start %+v", rs)
	}
	e.mustAccept(played, []byte(playedJSON("a")))
	e.mustAccept(played, []byte(playedJSON("b")))
	e.mustAccept(completed, completedJSON())
	if n, by := cs.setReads(); n != 2 || by[descstore.SetKey(e.index.Events[played].SHA256)] != 1 || by[descstore.SetKey(e.index.Events[completed].SHA256)] != 1 {
		t.Fatalf("after two events used: %d set reads %v, want one each", n, by)
	}

	// One event in use and one unused change in one index update.
	gen := e.gw.Registry().Current().Generation
	newPlayed := e.edit(played, "edited description")
	e.edit(unused, "edited too")
	e.writeIndex()
	s := e.waitReload(gen)
	n, by := cs.setReads()
	if n != 3 || by[descstore.SetKey(newPlayed)] != 1 {
		t.Fatalf("after the reload: %d set reads %v, want one more: %s", n, by, newPlayed)
	}
	if l := s.Events[played].Loaded(); l == nil || l.Entry.SHA256 != newPlayed {
		t.Fatalf("%s not rebuilt at the reload", played)
	}
	if s.Events[unused].Loaded() != nil {
		t.Errorf("%s built at the reload though never used", unused)
	}
	if rs := e.ready(); rs.Loaded != 2 || rs.Events != 4 {
		t.Errorf("readyz after the reload %+v, want 2 loaded", rs)
	}
	e.mustAccept(played, []byte(playedJSON("c")))
	e.mustAccept(completed, completedJSON())
	if n, by := cs.setReads(); n != 3 {
		t.Fatalf("requests after the reload read sets: %d %v", n, by)
	}
	// The record carries the new set's sha256.
	recs := e.consume(e.topics[played])
	if got := headerOf(recs[len(recs)-1].Headers, descstore.HeaderSchema); got != newPlayed {
		t.Errorf("last record's schema %s, want %s", got, newPlayed)
	}
	m := getText(t, e.url+"/metrics")
	if !strings.Contains(m, "evctl_gateway_registry_events_loaded 2\n") || !strings.Contains(m, "evctl_gateway_registry_events 4\n") {
		t.Errorf("metrics lack the loaded events:\n%s", grepLines(m, "evctl_gateway_registry"))
	}
	if strings.Contains(m, `evctl_gateway_accepted_total{event="`+unused+`"}`) {
		t.Errorf("an unused event has an accepted series")
	}
}

// TestRegistryConcurrentFirstRequestsLoadOnce: many requests for an event not loaded yet,
// all at once, read its set once and are all accepted.
func TestRegistryConcurrentFirstRequestsLoadOnce(t *testing.T) {
	e, cs := counted(t, []string{played}, nil)
	const n = 48
	var wg sync.WaitGroup
	start := make(chan struct{})
	status := make([]int, n)
	for i := range n {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/events/"+played, strings.NewReader(playedJSON("c")))
			req.Header.Set("Authorization", "Bearer tok-growth")
			resp, err := e.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			status[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	for i, st := range status {
		if st != http.StatusAccepted {
			t.Errorf("request %d: %d", i, st)
		}
	}
	if got, by := cs.setReads(); got != 1 {
		t.Fatalf("%d set reads for %d concurrent first requests, want 1: %v", got, n, by)
	}
}

// TestRegistryBrokenSet: a changed event in use whose new set is missing fails the reload and
// keeps the last good registry; an unused event whose set is missing answers 503 with
// Retry-After on its first request, naming the event, and the other events are served.
func TestRegistryBrokenSet(t *testing.T) {
	e, _ := counted(t, []string{played, completed}, nil)
	e.mustAccept(played, []byte(playedJSON("a")))
	good := e.index.Events[played]
	missing := strings.Repeat("ab", 32) // a sha256 no set has

	broken := good
	broken.SHA256 = missing
	e.index.Events[played] = broken
	e.writeIndex()
	waitFor(t, "the reload error", func() bool { return e.gw.Registry().LastError() != "" })
	if !strings.Contains(e.gw.Registry().LastError(), missing) {
		t.Errorf("reload error %q does not name the set", e.gw.Registry().LastError())
	}
	e.mustAccept(played, []byte(playedJSON("b"))) // the last good registry

	e.index.Events[played] = good
	c := e.index.Events[completed]
	c.SHA256 = missing
	e.index.Events[completed] = c
	e.writeIndex()
	waitFor(t, "the reload", func() bool {
		s := e.gw.Registry().Current()
		return e.gw.Registry().LastError() == "" && s.Events[completed].Entry.SHA256 == missing
	})
	st, body, h := e.post("/v1/events/"+completed, "tok-growth", "application/json", completedJSON())
	msg, _ := body["error"].(map[string]any)
	if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(msg["message"].(string), completed) {
		t.Fatalf("event with a missing set: %d %v %v", st, body, h)
	}
	e.mustAccept(played, []byte(playedJSON("c")))
	if m := getText(t, e.url+"/metrics"); !strings.Contains(m, `evctl_gateway_rejected_total{reason="descriptors_unavailable"} 1`) {
		t.Errorf("metrics lack the refusal:\n%s", grepLines(m, "rejected"))
	}
	// Unknown events and contract violations answer as before.
	if st, _, _ := e.post("/v1/events/feed/nope", "tok-growth", "application/json", []byte(`{}`)); st != http.StatusNotFound {
		t.Errorf("unknown event: %d", st)
	}
	if st, body, _ := e.post("/v1/events/"+played, "tok-growth", "application/json", []byte(`{"video_id":"v","watch_ms":"x"}`)); st != http.StatusBadRequest {
		t.Errorf("bad field: %d %v", st, body)
	}
}

// TestRegistryPreload: with Preload every event's set is read before the gateway is ready.
func TestRegistryPreload(t *testing.T) {
	e, cs := counted(t, []string{played, completed, "feed/feed_scrolled"}, func(c *Config) { c.Preload = true })
	if n, by := cs.setReads(); n != 3 {
		t.Fatalf("%d set reads at start with Preload, want 3: %v", n, by)
	}
	if rs := e.ready(); rs.Loaded != 3 {
		t.Fatalf("readyz %+v, want 3 loaded", rs)
	}
	e.mustAccept(played, []byte(playedJSON("a")))
	if n, _ := cs.setReads(); n != 3 {
		t.Fatalf("a request after preload read a set")
	}
}

func headerOf(hs []kgo.RecordHeader, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
