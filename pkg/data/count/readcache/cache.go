package readcache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Reader reads counter values (a counterstore.Store satisfies it).
type Reader interface {
	Get(ctx context.Context, counter string, keys []string) ([]int64, error)
}

// Config configures a Cache.
type Config struct {
	// Store is read for the keys the cache does not hold, and for every read while the cache is
	// not known to be fresh.
	Store Reader
	// Kafka is the environment's connection (brokers, SASL, TLS).
	Kafka []kgo.Opt
	// Changelogs maps each counter served from memory to its changelog topic; other counters
	// are read from the store.
	Changelogs map[string]string
	// MaxStale bounds how old the cache's last confirmation that it had consumed every changelog
	// record may be for it to serve from memory (default 1s). Confirmations are made every
	// MaxStale/4.
	MaxStale time.Duration
	// MaxKeys bounds the keys held (default 1,000,000, about 100 MB); past it a shard is
	// emptied and refilled from reads and the changelog.
	MaxKeys int
	Logger  *slog.Logger
}

const shards = 64

// Cache is a Reader over Config.Store with a changelog-fed copy of the values in memory. It is
// safe for concurrent use; Close stops its consumer.
type Cache struct {
	cfg    Config
	log    *slog.Logger
	seed   maphash.Seed
	shards [shards]shard
	// freshAt is when (Unix ns) the consumer last confirmed it had consumed every record that
	// existed then; 0 when never.
	freshAt atomic.Int64
	hits    atomic.Int64
	misses  atomic.Int64
	bypass  atomic.Int64

	cl    *kgo.Client // the changelogs' consumer
	admCl *kgo.Client // end offsets
	adm   *kadm.Client
	// topicCounter maps the changelog topics consumed to their counters.
	topicCounter map[string]string
	cancel       context.CancelFunc
	done         sync.WaitGroup
	// pos is the next offset to consume per changelog partition, kept by the consumer loop.
	mu  sync.Mutex
	pos map[string]map[int32]int64
}

// Stats are the cache's counts of reads.
type Stats struct {
	Hits   int64 // keys answered from memory
	Misses int64 // keys read from the store while fresh (then held)
	Bypass int64 // keys read from the store because the cache was not known to be fresh
}

// Start lists the changelog topics' end offsets, starts consuming them from there and returns
// the cache. Counters whose changelog topic does not exist yet are read from the store. It
// returns an error when Kafka cannot be reached; the consumer then runs until Close.
func Start(ctx context.Context, cfg Config) (*Cache, error) {
	if cfg.Store == nil {
		return nil, errors.New("readcache: config needs a store")
	}
	if cfg.MaxStale <= 0 {
		cfg.MaxStale = time.Second
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 1_000_000
	}
	c := newCache(cfg)
	var topics []string
	for _, t := range cfg.Changelogs {
		topics = append(topics, t)
	}
	admCl, err := kgo.NewClient(cfg.Kafka...)
	if err != nil {
		return nil, fmt.Errorf("readcache: kafka client: %w", err)
	}
	c.admCl, c.adm = admCl, kadm.NewClient(admCl)
	// A topic that does not exist comes back with an error of its own (handled below).
	began := time.Now()
	ends, err := c.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		admCl.Close()
		return nil, fmt.Errorf("readcache: list the changelogs' end offsets: %w", err)
	}
	start := map[string]map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return // a topic that does not exist (yet): its counter is read from the store
		}
		if start[o.Topic] == nil {
			start[o.Topic], c.pos[o.Topic] = map[int32]kgo.Offset{}, map[int32]int64{}
		}
		start[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset)
		c.pos[o.Topic][o.Partition] = o.Offset
	})
	c.topicCounter = map[string]string{}
	for counter, t := range cfg.Changelogs {
		if start[t] == nil {
			c.log.Warn("counter reads go to the store: its changelog topic does not exist", "counter", counter, "topic", t)
			continue
		}
		c.topicCounter[t] = counter
	}
	// Fetches wait at most MaxStale/4, so a broker that does not answer a waiting fetch as soon
	// as records arrive still keeps the consumer within the confirmations' budget.
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, cfg.Kafka...), kgo.ConsumePartitions(start), kgo.FetchMaxWait(cfg.MaxStale/4))...)
	if err != nil {
		admCl.Close()
		return nil, fmt.Errorf("readcache: kafka client: %w", err)
	}
	c.cl = cl
	// Consuming starts at the end offsets listed: the (empty) cache is fresh as of the listing.
	c.freshAt.Store(began.UnixNano())
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.done.Add(2)
	go c.consume(cctx)
	go c.confirm(cctx)
	return c, nil
}

// newCache is an empty cache without its consumer.
func newCache(cfg Config) *Cache {
	c := &Cache{cfg: cfg, log: cfg.Logger, seed: maphash.MakeSeed(), pos: map[string]map[int32]int64{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Close stops the consumer.
func (c *Cache) Close() {
	c.cancel()
	c.done.Wait()
	c.cl.Close()
	c.admCl.Close()
}

// Stats returns the counts of reads so far.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Bypass: c.bypass.Load()}
}

// fresh reports whether the cache may answer from memory now.
func (c *Cache) fresh() bool {
	at := c.freshAt.Load()
	return at != 0 && time.Since(time.Unix(0, at)) < c.cfg.MaxStale
}

// inMemory reports whether counter's reads may be answered from memory now: its changelog is
// consumed and the cache is fresh.
func (c *Cache) inMemory(counter string) bool {
	topic, ok := c.cfg.Changelogs[counter]
	return ok && c.topicCounter[topic] == counter && c.fresh()
}

// GetOne is Get for one key. A key held is answered without allocating: the gateway's counter
// route reads one key per request, and garbage per read is what makes the collector run.
func (c *Cache) GetOne(ctx context.Context, counter, key string) (int64, error) {
	if c.inMemory(counter) {
		var buf [128]byte
		mk := append(append(append(buf[:0], counter...), 0), key...)
		sh, h := c.shard(mk)
		sh.mu.RLock()
		v, ok := sh.get(h, mk)
		sh.mu.RUnlock()
		if ok {
			c.hits.Add(1)
			return v, nil
		}
	}
	// A miss or a bypass: Get counts it, reads the store and holds the value.
	vals, err := c.Get(ctx, counter, []string{key})
	if err != nil {
		return 0, err
	}
	return vals[0], nil
}

// Get returns the values of keys of one counter, parallel to keys (an unseen key is 0): from
// memory for the keys held while the cache is fresh, else from the store. Errors are the
// store's.
func (c *Cache) Get(ctx context.Context, counter string, keys []string) ([]int64, error) {
	if !c.inMemory(counter) {
		c.bypass.Add(int64(len(keys)))
		return c.cfg.Store.Get(ctx, counter, keys)
	}
	out := make([]int64, len(keys))
	var missIdx []int
	var missKeys []string
	var epochs []uint64
	var buf [128]byte
	for i, k := range keys {
		mk := append(append(append(buf[:0], counter...), 0), k...)
		sh, h := c.shard(mk)
		sh.mu.RLock()
		v, ok := sh.get(h, mk)
		epoch := sh.epoch
		sh.mu.RUnlock()
		if ok {
			out[i] = v
			continue
		}
		missIdx, missKeys, epochs = append(missIdx, i), append(missKeys, k), append(epochs, epoch)
	}
	c.hits.Add(int64(len(keys) - len(missKeys)))
	if len(missKeys) == 0 {
		return out, nil
	}
	c.misses.Add(int64(len(missKeys)))
	vals, err := c.cfg.Store.Get(ctx, counter, missKeys)
	if err != nil {
		return nil, err
	}
	for j, i := range missIdx {
		out[i] = vals[j]
		c.fill(counter, missKeys[j], vals[j], epochs[j])
	}
	return out, nil
}

// fill holds a value read from the store unless the key is held already: a changelog record
// applied since the read is newer than what the read saw (the count worker writes the store
// before the changelog), so it wins. A shard emptied since the read (epoch changed) may have
// dropped such a record: the value is then not held.
func (c *Cache) fill(counter, key string, v int64, epoch uint64) {
	mk := []byte(counter + "\x00" + key)
	sh, h := c.shard(mk)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.epoch != epoch {
		return
	}
	if _, ok := sh.get(h, mk); ok {
		return
	}
	c.room(sh)
	sh.put(h, mk, v)
}

// set applies a changelog record: the key's value as of the count worker's last write.
func (c *Cache) set(counter string, key []byte, v int64) {
	var buf [128]byte
	mk := append(append(append(buf[:0], counter...), 0), key...)
	sh, h := c.shard(mk)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.get(h, mk); !ok {
		c.room(sh)
	}
	sh.put(h, mk, v)
}

// room empties sh when it is full (sh.mu held).
func (c *Cache) room(sh *shard) {
	if sh.len() >= max(1, c.cfg.MaxKeys/shards) {
		sh.empty()
	}
}

// dropAll empties every shard: after a gap in the changelog, anything held may be stale.
func (c *Cache) dropAll() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.empty()
		sh.mu.Unlock()
	}
}

// shard returns the shard of mk and mk's hash.
func (c *Cache) shard(mk []byte) (*shard, uint64) {
	h := maphash.Bytes(c.seed, mk)
	return &c.shards[h%shards], h
}

// changelogValue is the part of a changelog record (count.Value) the cache reads.
type changelogValue struct {
	Value int64 `json:"value"`
}
