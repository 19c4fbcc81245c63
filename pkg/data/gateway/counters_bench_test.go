package gateway

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/counterstore/redis"
	"github.com/evctl/evctl/pkg/data/counterstore/redis/redistest"
)

// BenchmarkCounterRead: b.N counter reads through the gateway's route, sent open-loop at a fixed
// 10,000 reads/s (each read's latency counts from when it was due, so a stall is not hidden) over
// 100,000 keys in a real redis-server. Reports p50/p99/max in ms and the rate achieved.
func BenchmarkCounterRead(b *testing.B) {
	const rate, keys = 10_000, 100_000
	srv := redistest.Start(b)
	store, err := redis.Open(context.Background(), srv.URL(0), "evctl:b:", "")
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	incs := make([]counterstore.Increment, keys)
	for i := range incs {
		incs[i] = counterstore.Increment{Counter: "post_likes", Key: fmt.Sprintf("p%d", i), Delta: int64(i + 1)}
	}
	if _, err := store.Apply(context.Background(), counterstore.Batch{Scope: "s", Prev: -1, Offset: 1, Increments: incs}); err != nil {
		b.Fatal(err)
	}
	e := startEnv(&testing.T{}, envOpts{cfg: func(c *Config) {
		c.Counters = &Counters{Store: store, Known: func(n string) bool { return n == "post_likes" }}
	}})
	// Enough idle connections that an open-loop burst does not dial: a reused connection is what
	// a client of the gateway (a web backend, a load balancer) holds.
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256, MaxConnsPerHost: 256}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	r := rand.New(rand.NewSource(1))
	urls := make([]string, b.N)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/v1/counters/post_likes/p%d", e.url, r.Intn(keys))
	}
	lat := make([]time.Duration, b.N) // from when the read was due (a stall of the generator counts)
	svc := make([]time.Duration, b.N) // from when it was sent
	var failed atomic.Int64
	var firstErr atomic.Value
	read := func(url string) error {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer tok-growth")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		// Read to EOF, or the transport closes the connection instead of reusing it.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 256; i++ { // warm the connection pool
		wg.Go(func() { _ = read(urls[i%len(urls)]) })
	}
	wg.Wait()
	b.ResetTimer()
	// Open loop: each read is its own goroutine, started at its due time whatever the earlier
	// reads are doing, so a slow answer does not slow the offered rate (no coordinated omission).
	start := time.Now()
	for i := 0; i < b.N; i++ {
		due := start.Add(time.Duration(i) * time.Second / rate)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			sent := time.Now()
			if err := read(urls[i]); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
			lat[i], svc[i] = time.Since(due), time.Since(sent)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d reads failed (first: %v)", n, b.N, firstErr.Load())
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50_ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99_ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max_ms")
	sort.Slice(svc, func(i, j int) bool { return svc[i] < svc[j] })
	b.ReportMetric(ms(svc[len(svc)/2]), "svc_p50_ms")
	b.ReportMetric(ms(svc[len(svc)*99/100]), "svc_p99_ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reads/s")
	e.stop()
}
