package readcache

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/data/count"
	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/counterstore/redis"
	"github.com/evctl/evctl/pkg/data/counterstore/redis/redistest"
)

// TestCacheFollowsChangelog: reads are answered from memory with the value of the last
// changelog record, follow new changelog records, and go to the store when the changelog cannot
// be confirmed (kfake, redis-server).
func TestCacheFollowsChangelog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := kafkatest.Start(t)
	kopts := []kgo.Opt{kgo.SeedBrokers(kc.Addrs...), kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: kc.AdminPassword}.AsSha256Mechanism()),
		kgo.RetryTimeout(2 * time.Second)}
	topic := count.ChangelogTopic("prod", "post_likes")
	adm := kafkatest.Admin(t, kc).Admin()
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	srv := redistest.Start(t)
	store, err := redis.Open(ctx, srv.URL(0), "t:", "")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	scope := 0
	add := func(key string, delta int64) { // a store write the count worker would make
		t.Helper()
		scope++
		_, err := store.Apply(ctx, counterstore.Batch{Scope: "s", Prev: int64(scope) - 2, Offset: int64(scope) - 1,
			Increments: []counterstore.Increment{{Counter: "post_likes", Key: key, Delta: delta}, {Counter: "other", Key: key, Delta: delta}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	changelog := func(key string, v int64) { // the changelog record that follows it
		t.Helper()
		b, _ := json.Marshal(count.Value{Counter: "post_likes", Key: key, Value: v})
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// A record from before the cache started is not read (the cache starts at the end).
	add("p1", 5)
	changelog("p1", 5)

	c, err := Start(ctx, Config{Store: store, Kafka: kopts, MaxStale: time.Second,
		Changelogs: map[string]string{"post_likes": topic, "absent": count.ChangelogTopic("prod", "absent")}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	get := func(counter, key string) int64 {
		t.Helper()
		v, err := c.Get(ctx, counter, []string{key})
		if err != nil {
			t.Fatal(err)
		}
		return v[0]
	}
	getOne := func(counter, key string) int64 { // the gateway route's read
		t.Helper()
		v, err := c.GetOne(ctx, counter, key)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after a minute (stats %+v)", what, c.Stats())
			}
		}
	}
	eventually("fresh", c.fresh)

	// A miss reads the store and holds the value.
	if v := get("post_likes", "p1"); v != 5 || c.Stats().Misses != 1 {
		t.Fatalf("first read: %d, stats %+v", v, c.Stats())
	}
	// The store moves but no changelog record says so yet: the read is the held value.
	add("p1", 3)
	if v := get("post_likes", "p1"); v != 5 || c.Stats().Hits != 1 {
		t.Fatalf("read before the changelog record: %d, stats %+v", v, c.Stats())
	}
	if v := getOne("post_likes", "p1"); v != 5 || c.Stats().Hits != 2 {
		t.Fatalf("one-key read before the changelog record: %d, stats %+v", v, c.Stats())
	}
	// The changelog record arrives: reads follow it.
	changelog("p1", 8)
	eventually("the changelog's value", func() bool { return get("post_likes", "p1") == 8 })
	// A key the changelog names before any read is held from the changelog.
	add("p2", 2)
	changelog("p2", 2)
	eventually("a key first seen in the changelog", func() bool {
		before := c.Stats().Hits
		return get("post_likes", "p2") == 2 && c.Stats().Hits == before+1
	})
	// An unseen key is 0, a counter without a changelog (or whose changelog does not exist)
	// is read from the store every time.
	if v := get("post_likes", "nobody"); v != 0 {
		t.Fatalf("unseen key: %d", v)
	}
	// A one-key read of a key not held is a miss that reads the store and holds the value.
	add("p3", 4)
	misses := c.Stats().Misses
	if v := getOne("post_likes", "p3"); v != 4 || c.Stats().Misses != misses+1 {
		t.Fatalf("one-key miss: %d, stats %+v", v, c.Stats())
	}
	if hits := c.Stats().Hits; getOne("post_likes", "p3") != 4 || c.Stats().Hits != hits+1 {
		t.Fatalf("one-key read after the miss: stats %+v", c.Stats())
	}
	bypass := c.Stats().Bypass
	if v := get("other", "p1"); v != 8 || c.Stats().Bypass != bypass+1 {
		t.Fatalf("counter without a changelog: %d, stats %+v", v, c.Stats())
	}
	if v := get("absent", "p1"); v != 0 || c.Stats().Bypass != bypass+2 {
		t.Fatalf("counter whose changelog does not exist: %d, stats %+v", v, c.Stats())
	}
	if v := getOne("other", "p1"); v != 8 || c.Stats().Bypass != bypass+3 {
		t.Fatalf("one-key read of a counter without a changelog: %d, stats %+v", v, c.Stats())
	}

	// Kafka goes away: the cache cannot confirm it has every record, so after MaxStale reads go
	// to the store and see a write whose changelog record never came.
	kc.Close()
	add("p1", 1)
	eventually("reads from the store without kafka", func() bool { return get("post_likes", "p1") == 9 })
}

// TestFillLosesToChangelog: a value read from the store before a changelog record was applied
// does not replace the record's newer value, and a shard emptied between a read and its fill
// does not take the read's value (pure, no server).
func TestFillLosesToChangelog(t *testing.T) {
	c := newCache(Config{MaxKeys: shards * 2})
	held := func(key string) (int64, bool) {
		mk := []byte("c\x00" + key)
		sh, h := c.shard(mk)
		return sh.get(h, mk)
	}
	epoch := func(key string) uint64 { sh, _ := c.shard([]byte("c\x00" + key)); return sh.epoch }

	e := epoch("k")
	c.set("c", []byte("k"), 8) // the changelog record, applied while the store read was in flight
	c.fill("c", "k", 5, e)     // the store read's older value
	if v, _ := held("k"); v != 8 {
		t.Fatalf("fill replaced the changelog's value: %d", v)
	}

	e = epoch("j")
	c.dropAll() // e.g. a gap in the changelog
	c.fill("c", "j", 5, e)
	if _, ok := held("j"); ok {
		t.Fatal("a fill from before the shard was emptied was held")
	}
	c.fill("c", "j", 6, epoch("j"))
	if v, ok := held("j"); !ok || v != 6 {
		t.Fatalf("a fill after: %d %v", v, ok)
	}
}

// TestShardHashCollision: two keys with the same 64-bit hash are both held, each with its own
// value, updated and emptied like any other (pure, no server: the hash is chosen by the test).
func TestShardHashCollision(t *testing.T) {
	var s shard
	s.put(7, []byte("c\x00a"), 1)
	s.put(7, []byte("c\x00b"), 2) // same hash, other key
	s.put(9, []byte("c\x00d"), 4)
	s.put(7, []byte("c\x00b"), 3) // update of the colliding key
	s.put(7, []byte("c\x00a"), 5) // update of the first
	for _, c := range []struct {
		h    uint64
		key  string
		want int64
	}{{7, "c\x00a", 5}, {7, "c\x00b", 3}, {9, "c\x00d", 4}} {
		if v, ok := s.get(c.h, []byte(c.key)); !ok || v != c.want {
			t.Errorf("%q: %d %v, want %d", c.key, v, ok, c.want)
		}
	}
	if _, ok := s.get(7, []byte("c\x00e")); ok {
		t.Error("a key never put was found under a colliding hash")
	}
	if s.len() != 3 {
		t.Errorf("len %d, want 3", s.len())
	}
	e := s.epoch
	s.empty()
	if _, ok := s.get(7, []byte("c\x00b")); ok || s.len() != 0 || s.epoch != e+1 {
		t.Errorf("after empty: len %d epoch %d", s.len(), s.epoch)
	}
	s.put(7, []byte("c\x00b"), 6) // reused after emptying
	if v, ok := s.get(7, []byte("c\x00b")); !ok || v != 6 {
		t.Errorf("after refill: %d %v", v, ok)
	}
}
