package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	ingestv1 "github.com/evctl/evctl/pkg/data/gateway/ingestv1"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// FuzzEnvelope checks the batch fast path against encoding/json, which the slow path uses: when
// envelope accepts a line whose data is one JSON value, encoding/json reads the same event name
// and the same data from it. (A line whose data is not one JSON value goes to the converter,
// which refuses it, and then to encoding/json.) Seeds below; failures land in testdata/fuzz.
func FuzzEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"event":"feed/video_played","data":{"video_id":"v1","watch_ms":"1200"}}`,
		`{"event":"feed/video_played","data":{"a":1},"event":"posts/post_liked"}`,
		`{"event":"feed/video_played","data":{"a":"}"}}`,
		`{"event":"feed\/video_played","data":{}}`,
		`{"event":"","data":{}}`,
		`{"event":"x","data": }`,
		`{"data":{},"event":"x"}`,
		`{"event":"x","data":[1,2,3]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		name, data, ok := envelope(line)
		if !ok {
			return
		}
		for _, c := range name {
			if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				t.Fatalf("name %q has a byte the fast path must leave to encoding/json", name)
			}
		}
		if !json.Valid(data) {
			return
		}
		var bl batchLine
		if err := json.Unmarshal(line, &bl); err != nil {
			t.Fatalf("fast path read %q / %q, encoding/json refuses the line: %v", name, data, err)
		}
		var want, got bytes.Buffer
		if err := json.Compact(&want, data); err != nil {
			t.Fatal(err)
		}
		if err := json.Compact(&got, bl.Data); err != nil {
			t.Fatal(err)
		}
		if bl.Event != string(name) || want.String() != got.String() {
			t.Fatalf("fast path read %q / %s, encoding/json %q / %s", name, want.String(), bl.Event, got.String())
		}
	})
}

// FuzzParseTokens: ParseTokens never panics; what it accepts has no empty team or token, and
// printing it back as pairs parses to the same map.
func FuzzParseTokens(f *testing.F) {
	for _, s := range []string{"payments=s3cr3t,identity=abc", "a=b, ,c=d", "a=b,a=c", "=x", "a=", "a", "a==b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTokens(s)
		if err != nil {
			return
		}
		pairs := make([]string, 0, len(got))
		for team, tok := range got {
			if team == "" || tok == "" || strings.ContainsAny(team, ",=") || strings.Contains(tok, ",") {
				t.Fatalf("accepted team %q token %q", team, tok)
			}
			pairs = append(pairs, team+"="+tok)
		}
		again, err := ParseTokens(strings.Join(pairs, ","))
		if err != nil || !maps.Equal(got, again) {
			t.Fatalf("round trip of %v: %v, %v", got, again, err)
		}
	})
}

// FuzzConnectEnvelope sends arbitrary bodies to the Connect/gRPC route in each protocol it
// speaks (Connect unary, Connect streaming, gRPC, gRPC-Web; binary and JSON): it never panics,
// never accepts (the registry has no events), answers within the protocol, and its answer stays
// small whatever the input (no echo of the body). Seeds below; failures land in testdata/fuzz.
func FuzzConnectEnvelope(f *testing.F) {
	st, err := blob.Open(context.Background(), "file://"+f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	if _, err := st.Put(context.Background(), descstore.IndexKey, []byte(`{"events":{}}`), blob.PutOpts{}); err != nil {
		f.Fatal(err)
	}
	gw, err := New(context.Background(), Config{Store: st, MaxBody: 1024,
		Kafka: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}}) // never dialled: nothing is produced
	if err != nil {
		f.Fatal(err)
	}
	defer gw.Close()
	h := gw.Handler()
	types := []string{"application/proto", "application/json", "application/connect+proto", "application/connect+json",
		"application/grpc", "application/grpc+json", "application/grpc-web+proto", "application/grpc-web+json", "text/plain"}
	env := func(flags byte, msg []byte) []byte {
		return append([]byte{flags, byte(len(msg) >> 24), byte(len(msg) >> 16), byte(len(msg) >> 8), byte(len(msg))}, msg...)
	}
	msg, _ := proto.Marshal(&ingestv1.PublishRequest{Event: "feed/video_played", Payload: &ingestv1.PublishRequest_Json{Json: "{}"}})
	for i := range types {
		f.Add(uint8(i), msg)
		f.Add(uint8(i), env(0, msg))
		f.Add(uint8(i), env(1, msg))
		f.Add(uint8(i), []byte(`{"event":"feed/video_played","json":"{}"}`))
		f.Add(uint8(i), []byte{0, 0xff, 0xff, 0xff, 0xff})
		f.Add(uint8(i), append(env(0, msg), env(0, msg)...))
	}
	f.Fuzz(func(t *testing.T, ct uint8, body []byte) {
		typ := types[int(ct)%len(types)]
		req := httptest.NewRequest(http.MethodPost, publishPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", typ)
		if strings.HasPrefix(typ, "application/grpc") && !strings.HasPrefix(typ, "application/grpc-web") {
			req.ProtoMajor, req.ProtoMinor, req.Proto = 2, 0, "HTTP/2.0"
			req.Header.Set("Te", "trailers")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		resp := rec.Result()
		if rec.Body.Len() > 4096 {
			t.Fatalf("%s: %d-byte answer to a %d-byte body", typ, rec.Body.Len(), len(body))
		}
		grpcStatus := resp.Header.Get("Grpc-Status") + resp.Trailer.Get("Grpc-Status")
		if resp.StatusCode == http.StatusOK && (grpcStatus == "" || grpcStatus == "0") && !strings.Contains(rec.Body.String(), "grpc-status:") {
			if strings.Contains(typ, "connect+") {
				if !strings.Contains(rec.Body.String(), `"error"`) {
					t.Fatalf("%s: a body was accepted: %q", typ, rec.Body.String())
				}
				return
			}
			t.Fatalf("%s: a body was accepted: %d %v %q", typ, resp.StatusCode, resp.Header, rec.Body.String())
		}
	})
}
