package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	ingestv1 "github.com/evctl/evctl/pkg/data/gateway/ingestv1"
	"github.com/evctl/evctl/pkg/data/gateway/ingestv1/ingestv1connect"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

const played = "feed/video_played"

func playedJSON(id string) string {
	return `{"video_id":"v1","watchMs":"1200","quality":"HD","tags":["a","b"],"device":{"model":"Pixel"},` +
		`"event_id":"` + id + `","event_time":"2026-11-01T10:00:00Z"}`
}

func TestPublishHTTPAndRPC(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played}})
	// HTTP, as application/json and as a sendBeacon text/plain body.
	for i, ct := range []string{"application/json", "text/plain;charset=UTF-8"} {
		st, body, _ := e.post("/v1/events/"+played, "tok-growth", ct, []byte(playedJSON(fmt.Sprintf("http-%d", i))))
		if st != http.StatusAccepted || body["accepted"] != float64(1) {
			t.Fatalf("%s: %d %v", ct, st, body)
		}
	}
	// Connect (JSON payload), gRPC over h2c (binary payload), gRPC-Web.
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	bin := dynamicpb.NewMessage(e.descs[played])
	if err := protojson.Unmarshal([]byte(playedJSON("grpc-bin")), bin); err != nil {
		t.Fatal(err)
	}
	binBytes, _ := proto.Marshal(bin)
	for _, c := range []struct {
		name   string
		client ingestv1connect.IngestServiceClient
		req    *ingestv1.PublishRequest
	}{
		{"connect", ingestv1connect.NewIngestServiceClient(http.DefaultClient, e.url),
			&ingestv1.PublishRequest{Event: played, Payload: &ingestv1.PublishRequest_Json{Json: playedJSON("connect-json")}}},
		{"grpc", ingestv1connect.NewIngestServiceClient(&http.Client{Transport: h2c}, e.url, connect.WithGRPC()),
			&ingestv1.PublishRequest{Event: played, Payload: &ingestv1.PublishRequest_Proto{Proto: binBytes}}},
		{"grpcweb", ingestv1connect.NewIngestServiceClient(http.DefaultClient, e.url, connect.WithGRPCWeb()),
			&ingestv1.PublishRequest{Event: played, Payload: &ingestv1.PublishRequest_Json{Json: playedJSON("grpcweb-json")}}},
	} {
		req := connect.NewRequest(c.req)
		req.Header().Set("Authorization", "Bearer tok-growth")
		resp, err := c.client.Publish(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if resp.Msg.Accepted != 1 || resp.Msg.EventId == "" {
			t.Fatalf("%s: %v", c.name, resp.Msg)
		}
	}
	// An RPC error carries the code and the field.
	req := connect.NewRequest(&ingestv1.PublishRequest{Event: played, Payload: &ingestv1.PublishRequest_Json{Json: `{"video_id":"v","watch_ms":"x"}`}})
	req.Header().Set("Authorization", "Bearer tok-growth")
	_, err := ingestv1connect.NewIngestServiceClient(http.DefaultClient, e.url).Publish(context.Background(), req)
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "watch_ms") {
		t.Fatalf("bad payload: %v", err)
	}

	recs := e.consume(e.topics[played])
	if len(recs) != 5 {
		t.Fatalf("%d records, want 5", len(recs))
	}
	want := dynamicpb.NewMessage(e.descs[played])
	for _, r := range recs {
		got := e.decode(played, r.Value)
		id := got.Get(got.Descriptor().Fields().ByName("event_id")).String()
		hs := map[string]string{}
		for _, h := range r.Headers {
			hs[h.Key] = string(h.Value)
		}
		if hs[descstore.HeaderEvent] != played || hs[descstore.HeaderSchema] != e.index.Events[played].SHA256 || hs[descstore.HeaderContentType] != descstore.ContentType {
			t.Errorf("%s: headers %v", id, hs)
		}
		if string(r.Key) != "v1" {
			t.Errorf("%s: key %q, want the video_id", id, r.Key)
		}
		if !got.Has(got.Descriptor().Fields().ByName("received_at")) {
			t.Errorf("%s: received_at not filled", id)
		}
		want.Reset()
		if err := protojson.Unmarshal([]byte(playedJSON(id)), want); err != nil {
			t.Fatal(err)
		}
		got.Clear(got.Descriptor().Fields().ByName("received_at"))
		if !proto.Equal(want, got) {
			t.Errorf("%s: got %v, want %v", id, protojson.Format(got), protojson.Format(want))
		}
	}
}

func TestBatch(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played}})
	body := strings.Join([]string{
		`{"event":"feed/video_played","data":` + playedJSON("b0") + `}`,
		`{"event":"feed/video_played","data":{"video_id":"v","event_time":"2026-11-01T10:00:00Z","device":{"model":1}}}`,
		``,
		`{"event":"feed/nope","data":{}}`,
		`not json`,
		`{"event":"feed/video_played","data":` + playedJSON("b4") + `}`,
	}, "\n")
	st, resp, _ := e.post("/v1/batch", "tok-growth", "application/x-ndjson", []byte(body))
	if st != http.StatusOK || resp["accepted"] != float64(2) {
		t.Fatalf("%d %v", st, resp)
	}
	rej := resp["rejected"].([]any)
	var got []string
	for _, r := range rej {
		m := r.(map[string]any)
		got = append(got, fmt.Sprintf("%v:%v", m["index"], m["error"].(map[string]any)["field"]))
	}
	if strings.Join(got, " ") != "1:device.model 3: 4:" { // the 0-based line, blank line 2 counted
		t.Errorf("rejected %v", rej)
	}
	if n := len(e.consume(e.topics[played])); n != 2 {
		t.Errorf("%d records, want 2", n)
	}
}

func TestErrors(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played, "payments/purchase_completed"}, cfg: func(c *Config) { c.MaxBody = 1024 }})
	for _, c := range []struct {
		name, path, token, body string
		status                  int
		field                   string
	}{
		{"bad type", "/v1/events/" + played, "tok-growth", `{"video_id":"v","watch_ms":"x"}`, 400, "watch_ms"},
		{"nested", "/v1/events/" + played, "tok-growth", `{"video_id":"v","device":{"model":true}}`, 400, "device.model"},
		{"list", "/v1/events/" + played, "tok-growth", `{"video_id":"v","tags":["a",1]}`, 400, "tags[1]"},
		{"unknown field", "/v1/events/" + played, "tok-growth", `{"video_id":"v","nope":1}`, 400, "nope"},
		{"missing required", "/v1/events/" + played, "tok-growth", `{"event_time":"2026-11-01T10:00:00Z"}`, 400, "video_id"},
		{"bad json", "/v1/events/" + played, "tok-growth", `{"video_id":`, 400, "video_id"},
		{"unknown event", "/v1/events/feed/nope", "tok-growth", `{}`, 404, ""},
		{"too large", "/v1/events/" + played, "tok-growth", `{"video_id":"` + strings.Repeat("x", 2000) + `"}`, 413, ""},
		{"no token", "/v1/events/" + played, "", `{}`, 401, ""},
		{"bad token", "/v1/events/" + played, "nope", `{}`, 401, ""},
		{"other team", "/v1/events/payments/purchase_completed", "tok-growth", `{}`, 403, ""},
	} {
		st, body, _ := e.post(c.path, c.token, "application/json", []byte(c.body))
		if st != c.status {
			t.Errorf("%s: status %d, want %d (%v)", c.name, st, c.status, body)
			continue
		}
		errObj, _ := body["error"].(map[string]any)
		if errObj == nil || errObj["field"] != c.field || errObj["message"] == "" {
			t.Errorf("%s: body %v, want field %q", c.name, body, c.field)
		}
	}
}

func TestCORS(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played}})
	req, _ := http.NewRequest(http.MethodOptions, e.url+"/v1/events/"+played, nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req.Header.Set("Origin", "https://evil.example.com")
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin allowed: %v", resp.Header)
	}
}

// waitFor polls cond until it holds or the deadline passes (no timing assertion: the deadline
// only bounds a broken test).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHotReloadAndBrokenIndex(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played}})
	const completed = "feed/video_completed"
	if st, _, _ := e.post("/v1/events/"+completed, "tok-growth", "application/json", []byte(`{}`)); st != 404 {
		t.Fatalf("before publish: %d", st)
	}
	gen := e.gw.Registry().Current().Generation
	e.publish(completed)
	waitFor(t, "the new event", func() bool {
		s := e.gw.Registry().Current()
		return s.Generation > gen && s.Events[completed] != nil
	})
	body := `{"video_id":"v","session_id":"s","completion_ratio":0.5,"event_time":"2026-11-01T10:00:00Z"}`
	if st, resp, _ := e.post("/v1/events/"+completed, "tok-growth", "application/json", []byte(body)); st != 202 {
		t.Fatalf("after publish: %d %v", st, resp)
	}

	// A broken index keeps the last good registry, visible on /readyz and /metrics.
	if _, err := e.store.Put(context.Background(), "index.json", []byte("{broken"), blobPut()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload error", func() bool { return e.gw.Registry().LastError() != "" })
	if st, _, _ := e.post("/v1/events/"+played, "tok-growth", "application/json", []byte(playedJSON("after-broken"))); st != 202 {
		t.Fatalf("last good registry not kept: %d", st)
	}
	resp2, err := http.Get(e.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var rs ReadyStatus
	decodeJSON(t, resp2, &rs)
	if !rs.Ready || rs.LastError == "" || rs.Events != 2 {
		t.Errorf("readyz %+v", rs)
	}
	m := getText(t, e.url+"/metrics")
	if !strings.Contains(m, "evctl_gateway_registry_reload_errors_total") || strings.Contains(m, "evctl_gateway_registry_reload_errors_total 0\n") {
		t.Errorf("reload errors not in metrics")
	}
	for _, want := range []string{`evctl_gateway_accepted_total{event="feed/video_played"}`, `evctl_gateway_rejected_total{reason="unknown_event"} 1`, "evctl_gateway_produce_seconds_bucket", "evctl_gateway_registry_generation 2"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Repaired: the error clears.
	e.writeIndex()
	waitFor(t, "recovery", func() bool { return e.gw.Registry().LastError() == "" })
}
