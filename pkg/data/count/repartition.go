package count

// Repartitioning (SPEC-dataplane 12): a counter whose key is not what the source topic is keyed
// by would see one key in every source partition, so each partition would write it once per
// window (a write per key per window per partition, and the tier chosen per partition). Its
// records go first through the internal topic <env>.counters.<name>.repartition, keyed by the
// counter's key, and are counted from there, as a Kafka Streams groupBy does.
//
// Exactly once without Kafka transactions: a repartitioned record carries its source partition
// and offset (header evctl-src). The source partition's fence moves only after its repartitioned
// records are acknowledged, so a restart re-produces at most what followed the fence, in the same
// order. The counting side keeps, per repartition partition and with its own fence, the highest
// source offset it counted from each source partition (outbox Src) and skips a record at or
// below it: every producer of a source partition produces a contiguous run of its records in
// offset order starting at or before where the previous one stopped, so anything at or below the
// mark was counted already.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/control/sink/counters"
	"github.com/evctl/evctl/pkg/data/worker"
)

// HeaderSource is the header naming a repartitioned record's source: "<partition>:<offset>".
const HeaderSource = "evctl-src"

// RepartitionTopic is a counter's internal repartition topic.
func RepartitionTopic(env, counter string) string { return counters.RepartitionTopic(env, counter) }

// repartitioner produces a partition's repartitioned records and remembers the first failure,
// which Flush turns into a rewind (nothing after the fence is lost: it is produced again).
type repartitioner struct {
	mu  sync.Mutex
	err error
	n   int // records produced since the last flush
}

func (r *repartitioner) failed(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

// forward produces a record of a repartitioned counter to its topic, keyed by the counter's key,
// with the source's headers (so the counting side decodes it like the source) and its position.
func (h *Handler) forward(ctx context.Context, rec *worker.Record, counter int, hi hit) {
	hs := make([]kgo.RecordHeader, 0, len(rec.Headers)+1)
	for _, x := range rec.Headers {
		if x.Key != HeaderSource {
			hs = append(hs, x)
		}
	}
	hs = append(hs, kgo.RecordHeader{Key: HeaderSource, Value: []byte(strconv.Itoa(int(rec.Partition)) + ":" + strconv.FormatInt(rec.Offset, 10))})
	key := hi.keyB
	if !hi.isBytes {
		key = []byte(hi.key)
	}
	if key == nil {
		// An unset key field is the key "": it must hash to one partition like any other (a nil
		// key would be spread, and a re-forward could land where no mark knows it).
		key = []byte{}
	}
	out := &kgo.Record{Topic: h.repTopic[counter], Key: key, Value: rec.Value, Headers: hs}
	h.rep.n++
	h.prod.Produce(ctx, out, func(_ *kgo.Record, err error) {
		if err != nil {
			h.rep.failed(fmt.Errorf("count: produce to %s: %w", out.Topic, err))
		}
	})
}

// settleForwarded waits until every forwarded record is acknowledged; an error means some may
// not be, and the caller rewinds to the fences.
func (h *Handler) settleForwarded(ctx context.Context) error {
	if h.rep.n == 0 {
		return nil
	}
	if err := h.prod.Flush(ctx); err != nil {
		return fmt.Errorf("count: flush repartitioned records: %w", err)
	}
	h.rep.mu.Lock()
	defer h.rep.mu.Unlock()
	err := h.rep.err
	h.rep.err, h.rep.n = nil, 0
	return err
}

// source reads a repartitioned record's evctl-src header.
func source(rec *worker.Record) (partition int32, offset int64, err error) {
	for _, x := range rec.Headers {
		if x.Key != HeaderSource {
			continue
		}
		p, o, ok := strings.Cut(string(x.Value), ":")
		pn, err1 := strconv.ParseInt(p, 10, 32)
		on, err2 := strconv.ParseInt(o, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("count: header %s %q is not <partition>:<offset>", HeaderSource, x.Value)
		}
		return int32(pn), on, nil
	}
	return 0, 0, fmt.Errorf("count: a record of a repartition topic has no %s header", HeaderSource)
}
