package tail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/data/protosafe"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Line is one record as tail prints it: Event is the decoded value (protojson, proto field
// names) or Error says why it could not be decoded.
type Line struct {
	Offset    int64           `json:"offset"`
	Partition int32           `json:"partition"`
	Key       string          `json:"key"`
	Timestamp time.Time       `json:"timestamp"`
	Schema    string          `json:"schema"`
	Event     json.RawMessage `json:"event,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// Decoder turns records into Lines. It reads each descriptor set once and remembers the
// outcome, good or bad. It is not safe for concurrent use.
type Decoder struct {
	store blob.Store
	// messages maps an event ID to its message's full name (from index.json); fallback is the
	// message used for records without an evctl-event header.
	messages map[string]string
	fallback string
	sets     map[string]*resolved
}

type resolved struct {
	files *protoregistry.Files
	err   error
}

// NewDecoder returns a decoder reading sets from store. messages maps event IDs to message
// full names (index.json's entries); fallback names the message of records that carry no
// evctl-event header.
func NewDecoder(store blob.Store, messages map[string]string, fallback string) *Decoder {
	return &Decoder{store: store, messages: messages, fallback: fallback, sets: map[string]*resolved{}}
}

// Decode describes one record. It never fails: what cannot be decoded is in Line.Error. Only
// a done ctx can make a set unreadable for this call without being remembered.
func (d *Decoder) Decode(ctx context.Context, rec *kgo.Record) Line {
	l := Line{Offset: rec.Offset, Partition: rec.Partition, Key: string(rec.Key), Timestamp: rec.Timestamp.UTC()}
	event := ""
	for _, h := range rec.Headers {
		switch h.Key {
		case descstore.HeaderSchema:
			l.Schema = string(h.Value)
		case descstore.HeaderEvent:
			event = string(h.Value)
		}
	}
	if l.Schema == "" {
		l.Error = "no " + descstore.HeaderSchema + " header: not written by the evctl gateway"
		return l
	}
	msg := d.fallback
	if m, ok := d.messages[event]; ok {
		msg = m
	}
	if msg == "" {
		l.Error = fmt.Sprintf("unknown event %q: not in the descriptor index", event)
		return l
	}
	md, err := d.message(ctx, l.Schema, msg)
	if err != nil {
		l.Error = err.Error()
		return l
	}
	m := dynamicpb.NewMessage(md)
	if err := protosafe.Unmarshal(proto.UnmarshalOptions{}, rec.Value, m); err != nil {
		l.Error = fmt.Sprintf("corrupt value: not a %s (%d bytes): %v", msg, len(rec.Value), err)
		return l
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		l.Error = fmt.Sprintf("corrupt value: %s does not convert to JSON: %v", msg, err)
		return l
	}
	// protojson varies its whitespace on purpose; a compact form keeps one record per line.
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		l.Error = fmt.Sprintf("tail: compact JSON: %v", err)
		return l
	}
	l.Event = buf.Bytes()
	return l
}

func (d *Decoder) message(ctx context.Context, sha, name string) (protoreflect.MessageDescriptor, error) {
	r, ok := d.sets[sha]
	if !ok {
		r = d.load(ctx, sha)
		if ctx.Err() != nil {
			return nil, ctx.Err() // not remembered: the set may well exist
		}
		d.sets[sha] = r
	}
	if r.err != nil {
		return nil, r.err
	}
	desc, err := r.files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("schema %s has no message %s", short(sha), name)
	}
	md, ok := desc.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("schema %s: %s is not a message", short(sha), name)
	}
	return md, nil
}

func (d *Decoder) load(ctx context.Context, sha string) *resolved {
	b, err := descstore.ReadSet(ctx, d.store, sha)
	if err != nil {
		return &resolved{err: fmt.Errorf("unknown schema %s: %v", short(sha), err)}
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		return &resolved{err: fmt.Errorf("schema %s is not a FileDescriptorSet: %v", short(sha), err)}
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return &resolved{err: fmt.Errorf("schema %s does not resolve: %v", short(sha), err)}
	}
	return &resolved{files: files}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
