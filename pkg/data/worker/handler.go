package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/data/protosafe"
)

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

// Schema is the descriptor a record was encoded with.
type Schema struct {
	SHA256  string                         // the set's content address (the evctl-schema header)
	Event   string                         // the event ID the topic carries ("feed/video_played")
	Message protoreflect.MessageDescriptor // the event's message in that set
}

// Record is one Kafka record with the schema its header names.
type Record struct {
	*kgo.Record
	Schema *Schema
}

// TP is the record's partition.
func (r *Record) TP() TopicPartition { return TopicPartition{r.Topic, r.Partition} }

// Decode unmarshals the value into a dynamic message of its schema. Handlers that read wire
// bytes directly (ingest) need not call it. The error is a *RecordError.
func (r *Record) Decode() (*dynamicpb.Message, error) {
	m := dynamicpb.NewMessage(r.Schema.Message)
	if err := protosafe.Unmarshal(proto.UnmarshalOptions{}, r.Value, m); err != nil {
		return nil, &RecordError{Reason: fmt.Sprintf("value is not a valid %s: %v", r.Schema.Message.FullName(), err)}
	}
	return m, nil
}

// Handler is one data-plane job: the callbacks a Worker calls (see the package documentation
// for the full contract). A Worker never calls a Handler concurrently.
type Handler interface {
	// Assigned returns the sink's own position (next offset to read) for newly assigned
	// partitions; partitions absent from the map start at the group's committed offset. An
	// error is retried with backoff.
	Assigned(ctx context.Context, parts []TopicPartition) (map[TopicPartition]int64, error)
	// Handle takes one record. *RecordError: to the DLQ; *WaitError: pause the partition;
	// other errors: retried with backoff.
	Handle(ctx context.Context, rec *Record) error
	// FlushDue reports whether Flush should run now.
	FlushDue(now time.Time) bool
	// Flush makes every handled record durable (true), or stages them without making them
	// durable yet (false: offsets are not committed; batch mode before its cadence). final is
	// set when partitions leave or the worker stops: everything must become durable then.
	// *RewindError: the handler dropped its buffer; the worker re-asks Assigned for every
	// partition it holds.
	Flush(ctx context.Context, final bool) (durable bool, err error)
	// Revoked forgets partitions that left after their final flush and commit.
	Revoked(ctx context.Context, parts []TopicPartition)
	// Reset drops everything buffered and not yet durable, for every partition.
	Reset()
}

// Durabler is a Handler whose Flush hands records on without waiting for them (route delivers
// in the background, so a receiver in backoff never holds a flush or a rebalance). Durable
// returns, for each partition that has handled records not yet durable, the offset of the first
// one; the worker commits no further than that. It is called on the worker's goroutine.
type Durabler interface {
	Durable() map[TopicPartition]int64
}

// RecordError is a record that can never be handled (undecodable, missing a required field):
// it goes to the DLQ with Reason.
type RecordError struct {
	Reason string
}

func (e *RecordError) Error() string { return "bad record: " + e.Reason }

// WaitError is a record the sink cannot take yet (its schema has a field the table lacks):
// the partition pauses until the record is taken.
type WaitError struct {
	Reason string
	// Busy marks back-pressure (the handler's buffer is full, route's receiver is slower than
	// the topic) rather than a record the sink cannot take: the pause is logged at debug level.
	Busy bool
}

func (e *WaitError) Error() string { return "waiting: " + e.Reason }

// RewindError reports that the handler dropped its buffered records (another writer wrote a
// partition this worker thought it owned): positions must be re-read from the sink.
type RewindError struct {
	Reason string
}

func (e *RewindError) Error() string { return "rewind: " + e.Reason }
