package tail

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options say where to start and when to stop.
type Options struct {
	Topic string
	// FromBeginning starts at each partition's first record; otherwise Lookback records before
	// each partition's end.
	FromBeginning bool
	Lookback      int64
	// Limit stops after that many records; 0 means no limit.
	Limit int
	// Follow keeps reading new records until ctx ends; otherwise Run returns once every
	// partition is read up to the end offset it had when Run started.
	Follow bool
}

// Run reads o.Topic with a new client built from base's options (the same brokers and
// credentials) and calls emit with each decoded record, in order within a partition. It
// returns the number of records emitted. Errors: listing offsets or fetching (wrapped, "tail:"),
// emit's error as is; the end of ctx is not an error when following.
func Run(ctx context.Context, base *kgo.Client, dec *Decoder, o Options, emit func(Line) error) (int, error) {
	adm := kadm.NewClient(base)
	starts, err := adm.ListStartOffsets(ctx, o.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("tail: list start offsets of %s: %w", o.Topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, o.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("tail: list end offsets of %s: %w", o.Topic, err)
	}
	from := map[int32]kgo.Offset{}
	until := map[int32]int64{} // partitions still to read up to their end, when not following
	for p, e := range ends[o.Topic] {
		start := starts[o.Topic][p].Offset
		if !o.FromBeginning && e.Offset-o.Lookback > start {
			start = e.Offset - o.Lookback
		}
		from[p] = kgo.NewOffset().At(start)
		if start < e.Offset {
			until[p] = e.Offset
		}
	}
	if len(from) == 0 {
		return 0, fmt.Errorf("tail: topic %s has no partitions (does it exist? run `evctl apply`)", o.Topic)
	}
	if !o.Follow && len(until) == 0 {
		return 0, nil
	}
	cl, err := kgo.NewClient(append(base.Opts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: from}))...)
	if err != nil {
		return 0, fmt.Errorf("tail: %w", err)
	}
	defer cl.Close()
	n := 0
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			if o.Follow {
				return n, nil
			}
			return n, ctx.Err()
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("tail: fetch %s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return n, ferr
		}
		recs := fs.Records()
		sort.SliceStable(recs, func(i, j int) bool {
			if recs[i].Partition != recs[j].Partition {
				return recs[i].Partition < recs[j].Partition
			}
			return recs[i].Offset < recs[j].Offset
		})
		for _, r := range recs {
			if !o.Follow {
				end, ok := until[r.Partition]
				if !ok || r.Offset >= end {
					continue // past the end this read started at
				}
				if r.Offset+1 >= end {
					delete(until, r.Partition)
				}
			}
			if err := emit(dec.Decode(ctx, r)); err != nil {
				return n, err
			}
			n++
			if o.Limit > 0 && n >= o.Limit {
				return n, nil
			}
		}
		if !o.Follow && len(until) == 0 {
			return n, nil
		}
	}
}
