package descstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Record headers the gateway writes on every Kafka record and every reader decodes by (SPEC
// section 6).
const (
	// HeaderEvent carries the event ID ("feed/video_played").
	HeaderEvent = "evctl-event"
	// HeaderSchema carries the sha256 of the descriptor set the value was encoded with.
	HeaderSchema = "evctl-schema"
	// HeaderContentType carries ContentType.
	HeaderContentType = "content-type"
	// ContentType is the value's media type: binary Protobuf.
	ContentType = "application/x-protobuf"
)

// IndexKey is the index object's key in the store.
const IndexKey = "index.json"

// SetsPrefix is the key prefix every set lives under.
const SetsPrefix = "sets/"

const setSuffix = ".binpb"

// SetKey is the key of the set with the given sha256.
func SetKey(sha string) string { return SetsPrefix + sha + setSuffix }

// shaOfKey returns the sha256 a set key names, or "" when key is not a set key.
func shaOfKey(key string) string {
	rest, ok := strings.CutPrefix(key, SetsPrefix)
	if !ok {
		return ""
	}
	sha, ok := strings.CutSuffix(rest, setSuffix)
	if !ok {
		return ""
	}
	return sha
}

// SHA256 is the content address of a set: the lowercase hex sha256 of its bytes.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Entry is one event in index.json.
type Entry struct {
	Message string `json:"message"` // the message's full name in its set
	Topic   string `json:"topic"`
	SHA256  string `json:"sha256"` // the set, see SetKey
	Stage   string `json:"stage"`
}

// Index is index.json: every published event by ID.
type Index struct {
	Events map[string]Entry `json:"events"`
}

// NewIndex returns an empty index.
func NewIndex() *Index { return &Index{Events: map[string]Entry{}} }

// EventIDs lists the index's event IDs, sorted.
func (idx *Index) EventIDs() []string {
	out := make([]string, 0, len(idx.Events))
	for id := range idx.Events {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Messages maps every event ID to its message's full name.
func (idx *Index) Messages() map[string]string {
	out := make(map[string]string, len(idx.Events))
	for id, e := range idx.Events {
		out[id] = e.Message
	}
	return out
}

// DecodeIndex parses index.json. Events is never nil in the result.
func DecodeIndex(b []byte) (*Index, error) {
	idx := &Index{}
	if err := json.Unmarshal(b, idx); err != nil {
		return nil, fmt.Errorf("descstore: decode %s: %w", IndexKey, err)
	}
	if idx.Events == nil {
		idx.Events = map[string]Entry{}
	}
	return idx, nil
}

// EncodeIndex writes the index with sorted keys (encoding/json sorts map keys) and indentation,
// so diffs of the object are readable.
func EncodeIndex(idx *Index) ([]byte, error) {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("descstore: encode %s: %w", IndexKey, err)
	}
	return append(b, '\n'), nil
}
