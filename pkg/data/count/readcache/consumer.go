package readcache

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consume applies the changelog records as they arrive, until ctx ends.
func (c *Cache) consume(ctx context.Context) {
	defer c.done.Done()
	for {
		fs := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			var loss *kgo.ErrDataLoss
			if errors.As(err, &loss) {
				// Records the cache never saw were deleted (retention): anything held may be
				// stale, so everything is read from the store again.
				c.log.Warn("changelog records lost before the cache read them: emptied", "topic", topic, "partition", p, "err", err)
				c.dropAll()
				return
			}
			c.log.Warn("changelog fetch failed", "topic", topic, "partition", p, "err", err)
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			counter, ok := c.topicCounter[p.Topic]
			if !ok || len(p.Records) == 0 {
				return
			}
			for _, r := range p.Records {
				var v changelogValue
				if err := json.Unmarshal(r.Value, &v); err != nil {
					c.log.Warn("changelog record is not a counter value: skipped", "topic", p.Topic, "partition", p.Partition, "offset", r.Offset, "err", err)
					continue
				}
				c.set(counter, r.Key, v.Value)
			}
			c.mu.Lock()
			c.pos[p.Topic][p.Partition] = p.Records[len(p.Records)-1].Offset + 1
			c.mu.Unlock()
		})
	}
}

// confirm checks every MaxStale/4 that the consumer has consumed every changelog record that
// existed when the check began (its positions are at the end offsets listed), and marks the cache
// fresh as of then.
func (c *Cache) confirm(ctx context.Context) {
	defer c.done.Done()
	every := c.cfg.MaxStale / 4
	t := time.NewTicker(every)
	defer t.Stop()
	var topics []string
	for topic := range c.topicCounter {
		topics = append(topics, topic)
	}
	if len(topics) == 0 {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		began := time.Now()
		lctx, cancel := context.WithTimeout(ctx, c.cfg.MaxStale)
		ends, err := c.adm.ListEndOffsets(lctx, topics...)
		cancel()
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			continue // not confirmed: the cache goes stale after MaxStale and reads go to the store
		}
		// The end offsets are at least what existed when the check began; the consumer may need a
		// moment to reach them, so wait for it within the check's own budget.
		for deadline := began.Add(c.cfg.MaxStale); ; {
			if c.caughtUp(ends) {
				c.freshAt.Store(began.UnixNano())
				break
			}
			if time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(every / 8):
			}
		}
	}
}

// caughtUp reports whether the consumer's positions are at or past ends.
func (c *Cache) caughtUp(ends kadm.ListedOffsets) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok := true
	ends.Each(func(o kadm.ListedOffset) {
		if pos, known := c.pos[o.Topic][o.Partition]; !known || pos < o.Offset {
			ok = false
		}
	})
	return ok
}
