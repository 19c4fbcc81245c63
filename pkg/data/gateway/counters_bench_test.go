package gateway

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"sort"
	"sync"
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
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 10 * time.Second}
	lat := make([]time.Duration, b.N)
	var failed int
	var mu sync.Mutex
	jobs := make(chan int, 1024)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < 128; w++ {
		wg.Go(func() {
			r := rand.New(rand.NewSource(int64(w)))
			for i := range jobs {
				due := start.Add(time.Duration(i) * time.Second / rate)
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v1/counters/post_likes/p%d", e.url, r.Intn(keys)), nil)
				req.Header.Set("Authorization", "Bearer tok-growth")
				resp, err := client.Do(req)
				if err == nil {
					_, _ = resp.Body.Read(make([]byte, 128))
					resp.Body.Close()
				}
				lat[i] = time.Since(due)
				if err != nil || resp.StatusCode != 200 {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed > 0 {
		b.Fatalf("%d of %d reads failed", failed, b.N)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50_ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99_ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max_ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reads/s")
	e.stop()
}
