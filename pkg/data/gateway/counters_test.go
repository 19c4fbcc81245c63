package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/counterstore/redis"
	"github.com/evctl/evctl/pkg/data/counterstore/redis/redistest"
)

// counterEnv starts a gateway whose counter route reads a real redis-server holding post_likes
// p1 = 12500.
func counterEnv(t *testing.T) *env {
	t.Helper()
	srv := redistest.Start(t)
	store, err := redis.Open(context.Background(), srv.URL(0), "evctl:t:", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Apply(context.Background(), counterstore.Batch{Scope: "s", Prev: -1, Offset: 1,
		Increments: []counterstore.Increment{{Counter: "post_likes", Key: "p1", Delta: 12500}, {Counter: "post_likes", Key: "a b/c", Delta: 3}}}); err != nil {
		t.Fatal(err)
	}
	return startEnv(t, envOpts{cfg: func(c *Config) {
		c.Counters = &Counters{Store: store, Known: func(n string) bool { return n == "post_likes" }}
	}})
}

func TestCounterRoute(t *testing.T) {
	e := counterEnv(t)
	get := func(path, token string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == 200 && (resp.ContentLength <= 0 || resp.Header.Get("Content-Type") != "application/json") {
			t.Errorf("%s: Content-Length %d, Content-Type %q", path, resp.ContentLength, resp.Header.Get("Content-Type"))
		}
		var body map[string]any
		decodeJSON(t, resp, &body)
		return resp.StatusCode, body
	}
	for _, c := range []struct {
		path, token string
		status      int
		value       float64
	}{
		{"/v1/counters/post_likes/p1", "tok-growth", 200, 12500},
		{"/v1/counters/post_likes/p1", "tok-payments", 200, 12500}, // any team's token reads
		{"/v1/counters/post_likes/never", "tok-growth", 200, 0},    // unseen key: 0
		{"/v1/counters/post_likes/" + url.PathEscape("a b/c"), "tok-growth", 200, 3},
		{"/v1/counters/nope/p1", "tok-growth", 404, 0},
		{"/v1/counters/post_likes/p1", "", 401, 0},
		{"/v1/counters/post_likes/p1", "wrong", 401, 0},
	} {
		status, body := get(c.path, c.token)
		if status != c.status {
			t.Errorf("%s (token %q): status %d, want %d (%v)", c.path, c.token, status, c.status, body)
			continue
		}
		if status == 200 && (body["value"] != c.value || body["counter"] != "post_likes") {
			t.Errorf("%s: body %v, want value %v", c.path, body, c.value)
		}
		if status == 200 && c.path == "/v1/counters/post_likes/p1" && body["key"] != "p1" {
			t.Errorf("key: %v", body)
		}
		if status != 200 && body["error"] == nil {
			t.Errorf("%s: error body %v", c.path, body)
		}
	}
}

// TestWriteCounterMatchesEncodingJSON: the hand-written encoding of the route's answer is what
// encoding/json writes, for plain keys and for keys that need escaping.
func TestWriteCounterMatchesEncodingJSON(t *testing.T) {
	for _, key := range []string{"p1", "", "a b/c", `q"uo\te`, "é<&>\u2028", "\x00\x1f", string([]byte{0xff, 'x'})} {
		v := CounterValue{Counter: "post_likes", Key: key, Value: -42}
		rec := httptest.NewRecorder()
		writeCounter(rec, []string{"application/json"}, appendCounter(nil, v.Counter, v.Key, v.Value))
		want, _ := json.Marshal(v)
		if got := rec.Body.String(); got != string(want)+"\n" {
			t.Errorf("key %q: got %s want %s", key, got, want)
		}
		if rec.Header().Get("Content-Type") != "application/json" || rec.Code != 200 {
			t.Errorf("key %q: headers %v code %d", key, rec.Header(), rec.Code)
		}
	}
}
