package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/data/count/readcache"
	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/counterstore/redis"
	"github.com/evctl/evctl/pkg/data/counterstore/redis/redistest"
)

// BenchmarkCounterRead: b.N counter reads through the gateway's route, sent open-loop at a fixed
// 10,000 reads/s (each read's latency counts from when it was due, so a stall is not hidden) over
// 100,000 keys (uniform) in a real redis-server. Sub-benchmarks:
//
//   - client=process-raw: the reads come from scripts/readgen, a separate process (as a real
//     client is), with its wrk2-like client (prepared requests on kept connections), which
//     leaves most of the machine's two cores to the gateway and redis-server: the measurement of
//     the gateway.
//   - client=process-nethttp: the same with net/http's client (a goroutine per read), which
//     costs more CPU per read than the gateway itself.
//   - client=goroutines: the net/http generator inside the gateway's process, competing with
//     the gateway for its scheduler, heap and GC: shows what that costs.
//
// Each reports p50/p99/max in ms from the due time, the service time from sending, the rate
// achieved, and a breakdown of the gateway process over the run: the store's Get p99, the
// runtime's scheduling latency p99 (time a runnable goroutine waited for a CPU), GC cycles and
// their pauses, and GC's share of the process's CPU; with a separate client also the CPU per read
// of the gateway process, the client and redis-server.
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
	redisCPU := redisCPUReader(b, srv.URL(0))
	timed := &timedReader{r: store}
	route := &switchReader{}
	route.r.Store(&readerBox{timed})
	e := startEnv(&testing.T{}, envOpts{cfg: func(c *Config) {
		c.Counters = &Counters{Store: route, Known: func(n string) bool { return n == "post_likes" }}
	}})
	defer e.stop()
	prefix := e.url + "/v1/counters/post_likes/p"

	for _, client := range []string{"raw", "nethttp"} {
		b.Run("client=process-"+client+"/read=store", func(b *testing.B) { benchReadgen(b, prefix, keys, rate, client, timed, redisCPU) })
	}

	// The changelog-fed cache in front of the store (what `evctl gateway` runs), warm: every
	// key was read once before the clock starts (a gateway that has been serving), so the
	// reads are answered from memory; store_p99_ms then covers the misses only.
	b.Run("client=process-raw/read=cache", func(b *testing.B) {
		topic := "bench.counters.post_likes.changelog"
		acl, err := kgo.NewClient(e.kopts...)
		if err != nil {
			b.Fatal(err)
		}
		_, err = kadm.NewClient(acl).CreateTopic(context.Background(), 1, 1, nil, topic)
		acl.Close()
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			b.Fatal(err)
		}
		c, err := readcache.Start(context.Background(), readcache.Config{Store: timed, Kafka: e.kopts,
			Changelogs: map[string]string{"post_likes": topic}})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		for i := 0; i < keys; i += 1000 {
			ks := make([]string, 0, 1000)
			for k := i; k < min(keys, i+1000); k++ {
				ks = append(ks, "p"+strconv.Itoa(k))
			}
			if _, err := c.Get(context.Background(), "post_likes", ks); err != nil {
				b.Fatal(err)
			}
		}
		route.r.Store(&readerBox{c})
		defer route.r.Store(&readerBox{timed})
		before := c.Stats()
		benchReadgen(b, prefix, keys, rate, "raw", timed, redisCPU)
		st := c.Stats()
		if n := (st.Hits - before.Hits) + (st.Misses - before.Misses) + (st.Bypass - before.Bypass); n > 0 {
			b.ReportMetric(100*float64(st.Hits-before.Hits)/float64(n), "hit_pct")
		}
	})

	b.Run("client=goroutines/read=store", func(b *testing.B) {
		timed.reset(b.N)
		rt := startRuntimeStats()
		res := readInProcess(b, prefix, keys, rate)
		res.report(b)
		rt.report(b)
		timed.report(b)
	})
}

// switchReader lets one gateway serve the store or the cache.
type switchReader struct{ r atomic.Pointer[readerBox] }

type readerBox struct{ CounterReader }

func (s *switchReader) Get(ctx context.Context, counter string, keys []string) ([]int64, error) {
	return s.r.Load().Get(ctx, counter, keys)
}

// GetOne passes the one-key read on to the reader behind, as the route would call it.
func (s *switchReader) GetOne(ctx context.Context, counter, key string) (int64, error) {
	return readOne(ctx, s.r.Load().CounterReader, counter, key)
}

// benchReadgen runs scripts/readgen with -client client against the gateway at prefix.
func benchReadgen(b *testing.B, prefix string, keys, rate int, client string, timed *timedReader, redisCPU func() time.Duration) {
	gen := buildReadgen(b)
	timed.reset(b.N)
	rt := startRuntimeStats()
	cpu0, redis0 := processCPU(), redisCPU()
	b.ResetTimer()
	cmd := exec.Command(gen, "-url", prefix, "-keys", fmt.Sprint(keys), "-rate", fmt.Sprint(rate),
		"-n", fmt.Sprint(b.N), "-token", "tok-growth", "-client", client)
	if client == "nethttp" {
		cmd.Args = append(cmd.Args, "-conns", "256") // as it was measured before the raw client's default became 32
	}
	// READGEN_ARGS adds flags (e.g. "-conns 32") for experiments.
	cmd.Args = append(cmd.Args, strings.Fields(os.Getenv("READGEN_ARGS"))...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	runErr := cmd.Run()
	b.StopTimer()
	cpu1, redis1 := processCPU(), redisCPU()
	var res readResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		b.Fatalf("readgen: %v (%v): %s%s", err, runErr, out.Bytes(), errOut.Bytes())
	}
	if runErr != nil || res.Failed > 0 {
		b.Fatalf("readgen: %v: %d of %d reads failed (first: %s)", runErr, res.Failed, b.N, res.First)
	}
	res.report(b)
	b.ReportMetric(res.Late, "client_late_p99_ms")
	b.ReportMetric(float64(res.GC), "client_gc_cycles")
	b.ReportMetric(res.AllocB, "client_alloc_B/read")
	rt.report(b)
	timed.report(b)
	// CPU per read of each process: where the machine's two cores go.
	perRead := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(perRead(cpu1-cpu0), "gw_cpu_us/read")
	b.ReportMetric(perRead(redis1-redis0), "redis_cpu_us/read")
	if ps := cmd.ProcessState; ps != nil {
		b.ReportMetric(perRead(ps.UserTime()+ps.SystemTime()), "client_cpu_us/read")
	}
}

// readInProcess is readgen's loop inside this process: the in-process variant of the benchmark.
func readInProcess(b *testing.B, prefix string, keys, rate int) readResult {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256, MaxConnsPerHost: 256}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	r := rand.New(rand.NewSource(1))
	urls := make([]string, b.N)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s%d", prefix, r.Intn(keys))
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
	start := time.Now()
	for i := 0; i < b.N; i++ {
		due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
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
	sort.Slice(svc, func(i, j int) bool { return svc[i] < svc[j] })
	n := b.N
	return readResult{Reads: n, P50: ms(lat[n/2]), P99: ms(lat[n*99/100]), Max: ms(lat[n-1]),
		SvcP50: ms(svc[n/2]), SvcP99: ms(svc[n*99/100]), Rate: float64(n) / elapsed.Seconds()}
}

// readResult is scripts/readgen's output.
type readResult struct {
	Reads  int     `json:"reads"`
	Failed int64   `json:"failed"`
	First  string  `json:"first_error"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
	SvcP50 float64 `json:"svc_p50_ms"`
	SvcP99 float64 `json:"svc_p99_ms"`
	Rate   float64 `json:"reads_per_s"`
	Late   float64 `json:"late_p99_ms"`
	GC     uint32  `json:"client_gc_cycles"`
	AllocB float64 `json:"client_alloc_bytes_per_read"`
}

func (r readResult) report(b *testing.B) {
	b.ReportMetric(r.P50, "p50_ms")
	b.ReportMetric(r.P99, "p99_ms")
	b.ReportMetric(r.Max, "max_ms")
	b.ReportMetric(r.SvcP50, "svc_p50_ms")
	b.ReportMetric(r.SvcP99, "svc_p99_ms")
	b.ReportMetric(r.Rate, "reads/s")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// buildReadgen builds scripts/readgen into a temporary directory (the build cache makes the
// second build instant).
func buildReadgen(b *testing.B) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "readgen")
	cmd := exec.Command("go", "build", "-o", out, "../../../scripts/readgen")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("build scripts/readgen: %v", err)
	}
	return out
}

// processCPU is the CPU this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPUReader returns a func reading redis-server's CPU (INFO cpu: used_cpu_user +
// used_cpu_sys).
func redisCPUReader(b *testing.B, url string) func() time.Duration {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	b.Cleanup(func() { rdb.Close() })
	return func() time.Duration {
		info, err := rdb.Info(context.Background(), "cpu").Result()
		if err != nil {
			b.Fatalf("redis info cpu: %v", err)
		}
		var total float64
		for _, line := range strings.Split(info, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if k == "used_cpu_user" || k == "used_cpu_sys" {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
		return time.Duration(total * float64(time.Second))
	}
}

// timedReader records the latency of each store read: the store's part of a read's latency.
type timedReader struct {
	r   CounterReader
	n   atomic.Int64
	lat []time.Duration
}

func (t *timedReader) reset(n int) { t.lat = make([]time.Duration, n+4096); t.n.Store(0) }

func (t *timedReader) Get(ctx context.Context, counter string, keys []string) ([]int64, error) {
	start := time.Now()
	v, err := t.r.Get(ctx, counter, keys)
	if i := t.n.Add(1) - 1; i < int64(len(t.lat)) {
		t.lat[i] = time.Since(start)
	}
	return v, err
}

func (t *timedReader) report(b *testing.B) {
	n := min(int(t.n.Load()), len(t.lat))
	if n == 0 {
		return
	}
	lat := t.lat[:n]
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(ms(lat[n*99/100]), "store_p99_ms")
}
