package count

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// The evctl-owned milestone contract (SPEC-dataplane 12).
const (
	MilestoneFile    = "evctl/counters/v1/milestone.proto"
	MilestoneMessage = "evctl.counters.v1.Milestone"
	// MilestoneEvent is the evctl-event header of milestone records, the ID `evctl tail` and
	// the descriptor index know them by.
	MilestoneEvent = "evctl/counter_milestone"
)

// MilestoneSchema is the compiled milestone contract: its descriptor set (as published to the
// descriptor store), the set's sha256 (the evctl-schema header) and the message.
type MilestoneSchema struct {
	Set     []byte
	SHA256  string
	Message protoreflect.MessageDescriptor
}

// CompileMilestone compiles the embedded milestone.proto. The set is deterministic, so every
// evctl build of the same .proto publishes the same sha256.
func CompileMilestone(ctx context.Context) (*MilestoneSchema, error) {
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: func(path string) (io.ReadCloser, error) {
			src, ok := evoptions.Source(path)
			if !ok {
				return nil, fmt.Errorf("not embedded: %s", path)
			}
			return io.NopCloser(bytes.NewReader(src)), nil
		},
	})}
	files, err := c.Compile(ctx, MilestoneFile)
	if err != nil {
		return nil, fmt.Errorf("count: compile %s: %w", MilestoneFile, err)
	}
	fd := files[0]
	set := &descriptorpb.FileDescriptorSet{}
	for i := 0; i < fd.Imports().Len(); i++ {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd.Imports().Get(i).FileDescriptor))
	}
	set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("count: marshal milestone set: %w", err)
	}
	sum := sha256.Sum256(b)
	md := fd.Messages().ByName("Milestone")
	if md == nil {
		return nil, errors.New("count: milestone.proto has no message Milestone")
	}
	return &MilestoneSchema{Set: b, SHA256: hex.EncodeToString(sum[:]), Message: md}, nil
}

// Publish writes the set into the descriptor store (create-only, content addressed), so
// `evctl tail` decodes milestone records like any other event's.
func (m *MilestoneSchema) Publish(ctx context.Context, store blob.Store) error {
	_, err := store.Put(ctx, descstore.SetKey(m.SHA256), m.Set, blob.PutOpts{IfNotExist: true})
	if err != nil && !errors.Is(err, blob.ErrPrecondition) {
		return fmt.Errorf("count: publish the milestone contract: %w", err)
	}
	return nil
}

// Milestone is one milestone record.
type Milestone struct {
	Counter   string    `json:"counter"`
	Key       string    `json:"key"`
	Milestone int64     `json:"milestone"`
	Value     int64     `json:"value"`
	ReachedAt time.Time `json:"reached_at"`
}

// Encode marshals a milestone as the contract's binary Protobuf.
func (m *MilestoneSchema) Encode(ms Milestone) ([]byte, error) {
	msg := dynamicpb.NewMessage(m.Message)
	f := m.Message.Fields()
	msg.Set(f.ByName("counter"), protoreflect.ValueOfString(ms.Counter))
	msg.Set(f.ByName("key"), protoreflect.ValueOfString(ms.Key))
	msg.Set(f.ByName("milestone"), protoreflect.ValueOfInt64(ms.Milestone))
	msg.Set(f.ByName("value"), protoreflect.ValueOfInt64(ms.Value))
	msg.Set(f.ByName("reached_at"), protoreflect.ValueOfMessage(timestamppb.New(ms.ReachedAt).ProtoReflect()))
	return proto.MarshalOptions{Deterministic: true}.Marshal(msg)
}

// Decode reads a milestone record's value.
func (m *MilestoneSchema) Decode(b []byte) (Milestone, error) {
	msg := dynamicpb.NewMessage(m.Message)
	if err := proto.Unmarshal(b, msg); err != nil {
		return Milestone{}, fmt.Errorf("count: decode milestone: %w", err)
	}
	f := m.Message.Fields()
	out := Milestone{
		Counter:   msg.Get(f.ByName("counter")).String(),
		Key:       msg.Get(f.ByName("key")).String(),
		Milestone: msg.Get(f.ByName("milestone")).Int(),
		Value:     msg.Get(f.ByName("value")).Int(),
	}
	if ts := msg.Get(f.ByName("reached_at")).Message(); ts.IsValid() {
		fs := ts.Descriptor().Fields()
		out.ReachedAt = time.Unix(ts.Get(fs.ByName("seconds")).Int(), ts.Get(fs.ByName("nanos")).Int()).UTC()
	}
	return out, nil
}
