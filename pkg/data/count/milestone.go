package count

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/evctl/evctl/pkg/control/sink/counters"
	"github.com/evctl/evctl/pkg/data/protosafe"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// The evctl-owned milestone contract (SPEC-dataplane 12).
const (
	MilestoneFile    = counters.MilestoneFile
	MilestoneMessage = counters.MilestoneMessage
	// MilestoneEvent is the evctl-event header of milestone records, the ID `evctl tail` and
	// the descriptor index know them by.
	MilestoneEvent = counters.MilestoneEvent
)

// MilestoneSchema is the compiled milestone contract: its descriptor set (as published to the
// descriptor store), the set's sha256 (the evctl-schema header) and the message.
type MilestoneSchema struct {
	Set     []byte
	SHA256  string
	Message protoreflect.MessageDescriptor
}

// CompileMilestone compiles the embedded milestone.proto (through the counters resource kind,
// so the set a worker stamps on its records is the one `evctl apply` publishes).
func CompileMilestone(ctx context.Context) (*MilestoneSchema, error) {
	m, err := counters.CompileMilestone(ctx)
	if err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	return &MilestoneSchema{Set: m.Set, SHA256: m.SHA256, Message: m.Message}, nil
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
	if err := protosafe.Unmarshal(proto.UnmarshalOptions{}, b, msg); err != nil {
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
