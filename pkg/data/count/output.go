package count

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/worker"
)

// Value is a counter's value as the changelog, the gateway route and `evctl counters get` show
// it (SPEC-dataplane 12).
type Value struct {
	Counter string `json:"counter"`
	Key     string `json:"key"`
	Value   int64  `json:"value"`
}

// milestoneID identifies a milestone record: each is produced once.
type milestoneID struct {
	counter, key string
	milestone    int64
}

// emit produces, for each change, the changelog record and a record per milestone crossed.
// With marks (a redo after a crash) the milestones topic is read from them first, and
// milestones already there are not produced again.
func (h *Handler) emit(ctx context.Context, changes []counterstore.Change, at time.Time, marks map[int32]int64) error {
	var seen map[milestoneID]bool
	if marks != nil {
		var err error
		if seen, err = h.producedSince(ctx, marks); err != nil {
			return err
		}
	}
	recs := make([]*kgo.Record, 0, len(changes))
	for _, c := range changes {
		v, err := json.Marshal(Value{Counter: c.Counter, Key: c.Key, Value: c.New})
		if err != nil {
			return fmt.Errorf("count: encode changelog value: %w", err)
		}
		recs = append(recs, &kgo.Record{Topic: ChangelogTopic(h.cfg.Env, c.Counter), Key: []byte(c.Key), Value: v,
			Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/json")}}})
		i, ok := h.byName[c.Counter]
		if !ok {
			continue
		}
		for _, m := range Crossed(h.specs[i].Milestones, max(c.Old, c.Peak), c.New) {
			if seen[milestoneID{c.Counter, c.Key, m}] {
				continue
			}
			val, err := h.cfg.Milestone.Encode(Milestone{Counter: c.Counter, Key: c.Key, Milestone: m, Value: c.New, ReachedAt: at})
			if err != nil {
				return fmt.Errorf("count: encode milestone: %w", err)
			}
			recs = append(recs, &kgo.Record{Topic: MilestonesTopic(h.cfg.Env), Key: []byte(c.Counter + "/" + c.Key), Value: val,
				Headers: []kgo.RecordHeader{
					{Key: worker.HeaderEvent, Value: []byte(MilestoneEvent)},
					{Key: worker.HeaderSchema, Value: []byte(h.cfg.Milestone.SHA256)},
					{Key: "content-type", Value: []byte("application/x-protobuf")},
				}})
		}
	}
	if err := h.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("count: produce changelog and milestones: %w", err)
	}
	for _, r := range recs {
		if r.Topic == MilestonesTopic(h.cfg.Env) {
			h.milestones.Add(1)
			if m, err := h.cfg.Milestone.Decode(r.Value); err == nil {
				h.log.Info("milestone reached", "counter", m.Counter, "key", m.Key, "milestone", m.Milestone, "value", m.Value)
			}
		}
	}
	return nil
}

// producedSince reads the milestones topic from marks to its current end.
func (h *Handler) producedSince(ctx context.Context, marks map[int32]int64) (map[milestoneID]bool, error) {
	topic := MilestonesTopic(h.cfg.Env)
	ends, err := h.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("count: end offsets of %s: %w", topic, err)
	}
	from := map[int32]kgo.Offset{}
	until := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		m, ok := marks[o.Partition]
		if !ok {
			m = 0 // a partition added since: read it all
		}
		if o.Err == nil && o.Offset > m {
			from[o.Partition] = kgo.NewOffset().At(m)
			until[o.Partition] = o.Offset
		}
	})
	seen := map[milestoneID]bool{}
	if len(from) == 0 {
		return seen, nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, h.cfg.Kafka...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))...)
	if err != nil {
		return nil, fmt.Errorf("count: read %s: %w", topic, err)
	}
	defer cl.Close()
	for len(until) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, fmt.Errorf("count: read %s: %w", topic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if m, err := h.cfg.Milestone.Decode(r.Value); err == nil {
				seen[milestoneID{m.Counter, m.Key, m.Milestone}] = true
			}
			if end, ok := until[r.Partition]; ok && r.Offset+1 >= end {
				delete(until, r.Partition)
			}
		})
	}
	h.log.Info("milestones produced before a restart read back", "partitions", strconv.Itoa(len(from)), "found", len(seen))
	return seen, nil
}
