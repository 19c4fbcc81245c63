// Command readgen reads counters through a running gateway at a fixed rate, open loop, from its
// own process (as a real client is), and prints one JSON line of latency percentiles.
//
// Each read is sent at its due time whatever earlier reads are doing (a goroutine per read), so a
// slow answer does not lower the offered rate (no coordinated omission); latency is counted from
// the due time (a stall of this generator counts against the gateway, which is the pessimistic
// side) and, separately, from when the request was sent.
//
//	go run ./scripts/readgen -url http://127.0.0.1:8080/v1/counters/post_likes/p -keys 100000 \
//	    -rate 10000 -n 50000 -token tok
//
// pkg/data/gateway's BenchmarkCounterRead builds and runs it against its own gateway.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what readgen prints (milliseconds; Rate is the reads/s achieved).
type Result struct {
	Reads  int     `json:"reads"`
	Failed int64   `json:"failed"`
	First  string  `json:"first_error,omitempty"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	P999   float64 `json:"p999_ms"`
	Max    float64 `json:"max_ms"`
	SvcP50 float64 `json:"svc_p50_ms"`
	SvcP99 float64 `json:"svc_p99_ms"`
	Rate   float64 `json:"reads_per_s"`
}

func main() {
	var (
		prefix = flag.String("url", "", "URL prefix; the key (\"<i>\", i uniform in [0, keys)) is appended")
		keys   = flag.Int("keys", 100000, "distinct keys")
		rate   = flag.Int("rate", 10000, "reads per second")
		n      = flag.Int("n", 50000, "reads")
		token  = flag.String("token", "", "bearer token")
		conns  = flag.Int("conns", 256, "connections kept (warmed before the clock starts)")
		seed   = flag.Int64("seed", 1, "key sequence seed")
	)
	flag.Parse()
	if *prefix == "" || *n <= 0 || *rate <= 0 {
		fmt.Fprintln(os.Stderr, "readgen: -url, -n > 0 and -rate > 0 are required")
		os.Exit(2)
	}
	res := run(*prefix, *keys, *rate, *n, *conns, *token, *seed)
	_ = json.NewEncoder(os.Stdout).Encode(res)
	if res.Failed > 0 {
		os.Exit(1)
	}
}

func run(prefix string, keys, rate, n, conns int, token string, seed int64) Result {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxIdleConns: conns, MaxConnsPerHost: conns}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	r := rand.New(rand.NewSource(seed))
	urls := make([]string, n)
	for i := range urls {
		urls[i] = prefix + strconv.Itoa(r.Intn(keys))
	}
	read := func(url string) error {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
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
	for i := 0; i < conns; i++ { // warm the connection pool
		wg.Go(func() { _ = read(urls[i%len(urls)]) })
	}
	wg.Wait()
	lat := make([]time.Duration, n)
	svc := make([]time.Duration, n)
	var failed atomic.Int64
	var first atomic.Value
	start := time.Now()
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			sent := time.Now()
			if err := read(urls[i]); err != nil {
				failed.Add(1)
				first.CompareAndSwap(nil, err.Error())
			}
			lat[i], svc[i] = time.Since(due), time.Since(sent)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	out := Result{Reads: n, Failed: failed.Load(), Rate: float64(n) / elapsed.Seconds()}
	if s, ok := first.Load().(string); ok {
		out.First = s
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	sort.Slice(svc, func(i, j int) bool { return svc[i] < svc[j] })
	out.P50, out.P99, out.P999, out.Max = ms(lat[n/2]), ms(lat[n*99/100]), ms(lat[n*999/1000]), ms(lat[n-1])
	out.SvcP50, out.SvcP99 = ms(svc[n/2]), ms(svc[n*99/100])
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
