package gateway

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"
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
