package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	ingestv1 "github.com/evctl/evctl/pkg/data/gateway/ingestv1"
	"github.com/evctl/evctl/pkg/data/gateway/ingestv1/ingestv1connect"
	"github.com/evctl/evctl/pkg/storage/blob"
)

const publishPath = ingestv1connect.IngestServicePublishProcedure

// stalledBody sends head, then blocks until the test ends: a client that never finishes.
func stalledBody(t *testing.T, head []byte) io.Reader {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	t.Cleanup(func() { close(done); pw.Close() })
	go func() {
		if _, err := pw.Write(head); err != nil {
			return
		}
		<-done
	}()
	return pr
}

// TestAttackGRPCBodyBeforeAuth: a Publish without a token is refused from its headers, before
// a body (here one that never ends) is read, over Connect (HTTP/1.1) and gRPC (h2c); with a
// token, a message over max_body is resource_exhausted.
func TestAttackGRPCBodyBeforeAuth(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played}, cfg: func(c *Config) { c.MaxBody = 1024 }})
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	// Connect over HTTP/1.1: 100 MB announced, 64 KiB sent, then nothing.
	c := rawRequest(t, e, publishPath, "", "application/proto", 100<<20)
	_, _ = c.Write(make([]byte, 64<<10))
	if line, err := closedOrAnswered(t, c); err != nil || !strings.Contains(line, " 401 ") {
		t.Errorf("connect: %q %v, want 401 while the body is still being sent", line, err)
	}
	// gRPC over h2c: a body that never ends.
	req, _ := http.NewRequest(http.MethodPost, e.url+publishPath, stalledBody(t, make([]byte, 64<<10)))
	req.Header.Set("Content-Type", "application/grpc")
	resp, err := (&http.Client{Transport: h2c, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("grpc: no answer while the body was still being sent: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Grpc-Status") != "16" && resp.Trailer.Get("Grpc-Status") != "16" {
		t.Errorf("grpc: %d %v %v, want unauthenticated (16)", resp.StatusCode, resp.Header, resp.Trailer)
	}
	for _, opt := range []connect.ClientOption{connect.WithProtoJSON(), connect.WithGRPC(), connect.WithGRPCWeb()} {
		cl := ingestv1connect.NewIngestServiceClient(&http.Client{Transport: h2c}, e.url, opt)
		req := connect.NewRequest(&ingestv1.PublishRequest{Event: played, Payload: &ingestv1.PublishRequest_Json{Json: `{"video_id":"` + strings.Repeat("x", 4000) + `"}`}})
		req.Header().Set("Authorization", "Bearer tok-growth")
		if _, err := cl.Publish(context.Background(), req); connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Errorf("%T: over max_body: %v, want resource_exhausted", opt, err)
		}
	}
}

// rawRequest opens a connection and writes a request head announcing n body bytes.
func rawRequest(t *testing.T, e *env, path, token, contentType string, n int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n\r\n", path, auth, contentType, n)
	return c
}

// closedOrAnswered waits (bounded only so a broken server fails the test instead of hanging
// it) until the server answers or closes c; it returns the status line, or "" when closed.
func closedOrAnswered(t *testing.T, c net.Conn) (string, error) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "", err
	}
	return line, nil
}

// TestAttackStalledAndTricklingBody: a client that stops sending its body, or sends it a byte
// at a time, is cut off on every route; so is a keep-alive connection left idle.
func TestAttackStalledAndTricklingBody(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played}, cfg: func(c *Config) {
		c.ReadTimeout, c.IdleTimeout = 300*time.Millisecond, 300*time.Millisecond
	}})
	for _, path := range []string{"/v1/events/" + played, "/v1/batch", publishPath} {
		// Stalled: half a body, then nothing.
		c := rawRequest(t, e, path, "tok-growth", "application/json", 100)
		_, _ = c.Write([]byte(`{"video_id":`))
		if line, err := closedOrAnswered(t, c); err != nil || strings.Contains(line, " 2") {
			t.Errorf("%s stalled: %q %v, want the server to close or refuse", path, line, err)
		}
		// Trickling: one byte at a time; the server must give up before the body is complete.
		body := []byte(`{"video_id":"` + strings.Repeat("x", 200) + `"}`)
		c = rawRequest(t, e, path, "tok-growth", "application/json", len(body))
		sent := 0
		for ; sent < len(body); sent++ {
			if _, err := c.Write(body[sent : sent+1]); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
			_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, io.EOF) {
				break // answered or closed
			}
		}
		if sent == len(body) {
			t.Errorf("%s trickling: the whole body was accepted at a byte per 50ms", path)
		}
	}
	// HTTP/2 (h2c, gRPC): a stream whose body stalls is ended by the server, not left open.
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	req, _ := http.NewRequest(http.MethodPost, e.url+publishPath, stalledBody(t, []byte{0, 0, 0, 0, 100}))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Authorization", "Bearer tok-growth")
	if resp, err := (&http.Client{Transport: h2c, Timeout: 20 * time.Second}).Do(req); err == nil {
		_, rerr := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		st := resp.Header.Get("Grpc-Status") + resp.Trailer.Get("Grpc-Status")
		var ne net.Error
		if errors.As(rerr, &ne) && ne.Timeout() || st == "" || st == "0" {
			t.Errorf("h2c stalled stream: %v %v %v, want the server to end it with an error", resp.StatusCode, st, rerr)
		}
	} else if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") {
		t.Errorf("h2c stalled stream: still open when the client gave up: %v", err)
	}
	// Idle: a keep-alive connection with no next request is closed.
	c, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: %v, want closed by the server", err)
	}
}

// TestAttackRecordTooLargeIs413: a record larger than its topic's max.message.bytes (checked
// before producing) or than the producer's batch limit is a 413 without Retry-After, never a
// 503; in a batch it is a rejected line, and the batch is not a 503.
func TestAttackRecordTooLargeIs413(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played}})
	big := func(n int) []byte {
		return []byte(`{"video_id":"` + strings.Repeat("x", n) + `","event_time":"2026-11-01T10:00:00Z"}`)
	}
	// 1.2 MB: over the producer's batch limit (and Kafka's default max.message.bytes).
	st, body, h := e.post("/v1/events/"+played, "tok-growth", "application/json", big(1200<<10))
	if st != http.StatusRequestEntityTooLarge || h.Get("Retry-After") != "" {
		t.Fatalf("1.2 MB event: %d %v %v, want 413 without Retry-After", st, body, h)
	}
	// A topic with a smaller max.message.bytes: refused before producing, once the limit is read.
	adm := e.admin()
	defer adm.Close()
	v := "20000"
	if _, err := adm.AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: "max.message.bytes", Value: &v}}, e.topics[played]); err != nil {
		t.Fatal(err)
	}
	e.gw.Registry().refreshLimits(context.Background(), func(ctx context.Context, topics []string) (map[string]int64, error) {
		return topicLimits(ctx, e.gw.kafka.admin(), topics)
	})
	if n := e.gw.Registry().Current().Events[played].maxRecord.Load(); n != 20000 {
		t.Fatalf("limit %d, want the topic's 20000", n)
	}
	st, body, h = e.post("/v1/events/"+played, "tok-growth", "application/json", big(30000))
	if st != http.StatusRequestEntityTooLarge || h.Get("Retry-After") != "" || !strings.Contains(fmt.Sprint(body), "max.message.bytes") {
		t.Fatalf("30 kB event on a 20 kB topic: %d %v %v", st, body, h)
	}
	batch := `{"event":"feed/video_played","data":` + string(big(30000)) + "}\n" +
		`{"event":"feed/video_played","data":` + playedJSON("small") + "}\n"
	st, body, _ = e.post("/v1/batch", "tok-growth", "application/x-ndjson", []byte(batch))
	if st != http.StatusOK || body["accepted"] != float64(1) || len(body["rejected"].([]any)) != 1 {
		t.Fatalf("batch: %d %v", st, body)
	}
	st, body, h = e.post("/v1/batch", "tok-growth", "application/x-ndjson", []byte(`{"event":"feed/video_played","data":`+string(big(30000))+"}\n"))
	if st != http.StatusOK || h.Get("Retry-After") != "" {
		t.Fatalf("batch of one oversized line: %d %v, want 200 with the line rejected", st, body)
	}
	// With a client whose batch limit is larger than the topic's, the broker's refusal is a 413 too.
	if got := kafkaError(fmt.Errorf("produce: %w", kerr.MessageTooLarge)).status; got != http.StatusRequestEntityTooLarge {
		t.Errorf("MESSAGE_TOO_LARGE: %d", got)
	}
}

// TestAttackNonRetriableProduceErrorsAreNot503 maps every produce error class (a pure
// function: no broker needed to build these errors).
func TestAttackNonRetriableProduceErrorsAreNot503(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{kerr.MessageTooLarge, 413},
		{kerr.RecordListTooLarge, 413},
		{kerr.InvalidRecord, 400},
		{kerr.CorruptMessage, 400},
		{kerr.TopicAuthorizationFailed, 403},
		{kerr.ClusterAuthorizationFailed, 403},
		{kerr.UnsupportedVersion, 500},
		{kerr.NotLeaderForPartition, 503},
		{kerr.RequestTimedOut, 503},
		{context.DeadlineExceeded, 503},
		{errors.New("unable to dial"), 503},
	} {
		if got := kafkaError(fmt.Errorf("wrapped: %w", c.err)).status; got != c.want {
			t.Errorf("%v: %d, want %d", c.err, got, c.want)
		}
	}
}

// TestAttackTokenSharedOrUnknownTeam: the same token for two teams, or a token for a team
// evctl.yaml does not declare, refuses to start.
func TestAttackTokenSharedOrUnknownTeam(t *testing.T) {
	for _, c := range []struct {
		tokens map[string]string
		teams  []string
		want   string
	}{
		{map[string]string{"growth": "same", "payments": "same"}, []string{"growth", "payments"}, "same token"},
		{map[string]string{"growth": "a", "ghost": "b"}, []string{"growth", "payments"}, `"ghost"`},
	} {
		st, err := blob.Open(context.Background(), "file://"+t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(context.Background(), Config{Store: st, Tokens: c.tokens, Teams: c.teams})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "same\"") {
			t.Errorf("%v: %v, want an error naming %s", c.tokens, err, c.want)
		}
	}
}

// TestAttackBatchIndexCountsBlankLines: a rejected line's index is its 0-based line in the
// body, blank lines included, and a huge bad value is not echoed back whole.
func TestAttackBatchIndexCountsBlankLines(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played}})
	huge := strings.Repeat("9", 1<<20)
	body := "\n\n" + `{"event":"feed/video_played","data":{"video_id":"v","watch_ms":` + huge + `}}` + "\n\n" +
		`{"event":"feed/video_played","data":` + playedJSON("ok") + "}\n"
	req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/batch", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok-growth")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(raw) > 4096 {
		t.Errorf("a 1 MB bad value gave a %d-byte answer", len(raw))
	}
	var br BatchResponse
	if err := json.Unmarshal(raw, &br); err != nil {
		t.Fatal(err)
	}
	if br.Accepted != 1 || len(br.Rejected) != 1 || br.Rejected[0].Index != 2 || br.Rejected[0].Error.Field != "watch_ms" {
		t.Fatalf("%s", raw)
	}
	// The single-event route cuts the value too.
	st, out, _ := e.post("/v1/events/"+played, "tok-growth", "application/json", []byte(`{"video_id":"v","watch_ms":"`+huge+`"}`))
	if msg := fmt.Sprint(out); st != http.StatusBadRequest || len(msg) > 4096 || !strings.Contains(msg, "bytes)") {
		t.Errorf("%d, %d-byte message", st, len(msg))
	}
}
