package gateway

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestEnvelope holds the batch line fast path to encoding/json: whenever it splits a line into
// an event and a data value the converter could accept (one valid JSON value), they are what
// encoding/json reads (up to surrounding whitespace, which the converter ignores).
func TestEnvelope(t *testing.T) {
	lines := []string{
		`{"event":"feed/video_played","data":{"video_id":"v"}}`,
		`{"event":"feed/video_played","data": {"video_id":"v"} }`,
		`{"event":"feed/video_played","data":{}}`,
		`{"event":"feed/video_played","data":null}`,
		`{"event":"feed/video_played","data":{"a":"}"},"event":"x"}`,
		`{"event":"feed/video_played","data":}`,
		`{"event":"feed/video_played","data": }`,
		`{"event":"","data":{}}`,
		`{"event":"a\"b","data":{}}`,
		`{"event":"a\u0062","data":{}}`,
		`{"event":"é","data":{}}`,
		`{"event":"x"}`,
		`{"event":"x","data"}`,
		`{"data":{},"event":"x"}`,
		`{ "event":"x","data":{}}`,
		`{"event":"x" ,"data":{}}`,
		`{"event":"x","data":{}`,
		`{"event":"x","data":{}}}`,
		`{"event":"x","Data":{}}`,
	}
	for _, l := range lines {
		name, data, ok := envelope([]byte(l))
		if !ok {
			continue
		}
		if !json.Valid(data) {
			continue // the converter refuses it, and the line goes to encoding/json
		}
		var bl batchLine
		if err := json.Unmarshal([]byte(l), &bl); err != nil {
			t.Errorf("%s: split, but encoding/json refuses it: %v", l, err)
			continue
		}
		if string(name) != bl.Event || string(bytes.TrimSpace(data)) != string(bl.Data) {
			t.Errorf("%s: event %q data %s, encoding/json %q %s", l, name, data, bl.Event, bl.Data)
		}
	}
}
