// Command ingestbench measures `evctl ingest` into Delta (issue 12): 25-field ~600-byte events
// from kfake (in a child process, so the worker's memory is its own) into a file:// Delta table
// partitioned by event_date, against the bare parquet-go encoding of the same rows (Go structs,
// zstd at the writer's level, on as many goroutines as the writer encodes on) in the same run. It prints key=value lines for scripts/bench-ingest.sh:
//
//	go run ./scripts/ingestbench -events 1000000 -partitions 64 -flush 2s
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/data/ingest/delta"
	"github.com/evctl/evctl/pkg/data/worker"
)

const topic = "bench.feed.event.v1"

// profile and traceOut are the -cpuprofile and -trace paths (set once by main).
var profile, traceOut string

// pollRecords is the worker's MaxPollRecords (-poll-records).
var pollRecords int

func main() {
	events := flag.Int("events", 1000000, "backlog events")
	partitions := flag.Int("partitions", 64, "topic partitions")
	flush := flag.Duration("flush", 2*time.Second, "ingestion flush interval")
	maxRows := flag.Int("max-rows", 500000, "ingestion max_rows")
	rate := flag.Int("fresh-rate", 20000, "events/s produced in the freshness phase")
	freshFor := flag.Duration("fresh-for", 12*time.Second, "length of the freshness phase")
	serve := flag.String("serve", "", "internal: run kfake with the backlog, schema sha256 given")
	flag.IntVar(&pollRecords, "poll-records", worker.PollBuffered, "records per poll (A/B: evctl ingest uses worker.PollBuffered)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the backlog phase to this file")
	traceFile := flag.String("trace", "", "write an execution trace of the backlog phase to this file (go tool trace)")
	flag.Parse()
	profile, traceOut = *cpuProfile, *traceFile
	var err error
	if *serve != "" {
		err = runServe(*serve, *events, *partitions)
	} else {
		err = run(*events, *partitions, *flush, *maxRows, *rate, *freshFor)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

func headers(sha string) []kgo.RecordHeader {
	return []kgo.RecordHeader{{Key: worker.HeaderEvent, Value: []byte("feed/event")}, {Key: worker.HeaderSchema, Value: []byte(sha)}}
}

// runServe starts kfake, fills the topic and prints its address; it runs until stdin closes.
func runServe(sha string, n, partitions int) error {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(partitions), topic))
	if err != nil {
		return err
	}
	defer kc.Close()
	start := time.Now()
	if err := produce(context.Background(), kc.ListenAddrs(), sha, 0, n, 0); err != nil {
		return err
	}
	fmt.Printf("ready %s %.3f\n", kc.ListenAddrs()[0], time.Since(start).Seconds())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// produce writes events [from, from+n); perSec > 0 paces them.
func produce(ctx context.Context, addrs []string, sha string, from, n, perSec int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(200000),
		kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(uint64(from), 7))
	var first error
	var once sync.Once
	h := headers(sha)
	start := time.Now()
	for i := from; i < from+n; i++ {
		if perSec > 0 && (i-from)%(perSec/100) == 0 {
			due := start.Add(time.Duration(float64(i-from) / float64(perSec) * float64(time.Second)))
			time.Sleep(time.Until(due))
		}
		v, _ := gen(rng, i, time.Now())
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: v, Headers: h}, func(_ *kgo.Record, err error) {
			if err != nil {
				once.Do(func() { first = err })
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return first
}

// timed wraps the handler to measure freshness: produce time (the record timestamp) to the
// flush whose commit made the record visible (a streaming commit is cut at the flush interval
// and committed by a later flush: a record counts as visible once the handler's Durable no
// longer holds it back). It also ends the backlog with a commit as soon as its last record is
// handled: otherwise the backlog's time would end with up to one flush interval of idle waiting
// for the next periodic commit (a fixed latency, counted in freshness, not a cost of the
// sustained rate).
type timed struct {
	*delta.Handler
	backlog int // records of the backlog; once as many were handled, a flush is due
	handled int
	mu      sync.Mutex
	on      bool
	pending []handled
	lat     []time.Duration
}

// handled is one record handled while freshness is measured.
type handled struct {
	tp     worker.TopicPartition
	offset int64
	at     time.Time
}

func (t *timed) Handle(ctx context.Context, rec *worker.Record) error {
	err := t.Handler.Handle(ctx, rec)
	if err == nil {
		t.handled++
		t.mu.Lock()
		if t.on {
			t.pending = append(t.pending, handled{rec.TP(), rec.Offset, rec.Timestamp})
		}
		t.mu.Unlock()
	}
	return err
}

func (t *timed) FlushDue(now time.Time) bool {
	return t.backlog > 0 && t.handled >= t.backlog || t.Handler.FlushDue(now)
}

func (t *timed) Flush(ctx context.Context, final bool) (bool, error) {
	d, err := t.Handler.Flush(ctx, final || t.backlog > 0 && t.handled >= t.backlog)
	if d && err == nil {
		if t.backlog > 0 && t.handled >= t.backlog {
			t.backlog = 0
		}
		now := time.Now()
		held := t.Handler.Durable()
		t.mu.Lock()
		keep := t.pending[:0]
		for _, r := range t.pending {
			if first, ok := held[r.tp]; ok && r.offset >= first {
				keep = append(keep, r)
				continue
			}
			t.lat = append(t.lat, now.Sub(r.at))
		}
		t.pending = keep
		t.mu.Unlock()
	}
	return d, err
}

func run(n, partitions int, flush time.Duration, maxRows, rate int, freshFor time.Duration) error {
	ctx := context.Background()
	env, err := setup()
	if err != nil {
		return err
	}
	defer os.RemoveAll(env.dir)
	child := exec.Command(os.Args[0], "-serve", env.sha, "-events", fmt.Sprint(n), "-partitions", fmt.Sprint(partitions))
	child.Stderr = os.Stderr
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { stdin.Close(); _ = child.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("kfake child: %w", err)
	}
	var addr string
	var produceSecs float64
	if _, err := fmt.Sscanf(line, "ready %s %f", &addr, &produceSecs); err != nil {
		return fmt.Errorf("kfake child said %q", line)
	}
	fmt.Printf("backlog_events=%d\npartitions=%d\nbacklog_produce_s=%.2f\n", n, partitions, produceSecs)

	const group = "evctl.bench.ingest.delta"
	h, err := delta.NewHandler(delta.Config{Group: group, Tables: []delta.TableConfig{{Event: "feed/event", Topic: topic, Store: env.lake,
		Location: env.location, PartitionBy: []string{"event_date"}, Flush: flush, MaxRows: maxRows}}})
	if err != nil {
		return err
	}
	th := &timed{Handler: h, backlog: n}
	w, err := worker.New(worker.Config{Name: "ingest/delta", Group: group, Topics: []string{topic}, Kafka: []kgo.Opt{kgo.SeedBrokers(addr)},
		Registry: worker.NewRegistry(env.desc), Handler: th, MaxPollRecords: pollRecords, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	if profile != "" {
		pf, err := os.Create(profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	if traceOut != "" {
		tf, err := os.Create(traceOut)
		if err != nil {
			return err
		}
		if err := trace.Start(tf); err != nil {
			return err
		}
	}
	start := time.Now()
	selfCPU, kfakeCPU := cpuSeconds("self"), cpuSeconds(fmt.Sprint(child.Process.Pid))
	go func() { done <- w.Run(wctx) }()
	adm, _ := kgo.NewClient(kgo.SeedBrokers(addr))
	defer adm.Close()
	if err := waitCaughtUp(ctx, env, group, kadm.NewClient(adm)); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if profile != "" {
		pprof.StopCPUProfile()
	}
	if traceOut != "" {
		trace.Stop()
	}
	fmt.Printf("ingest_s=%.2f\ningest_events_per_s=%.0f\n", secs, float64(n)/secs)
	// Where the two cores went during the backlog: this process (worker) and kfake's.
	workerCPU := cpuSeconds("self") - selfCPU
	fmt.Printf("ingest_worker_cpu_s=%.2f\ningest_kfake_cpu_s=%.2f\n", workerCPU, cpuSeconds(fmt.Sprint(child.Process.Pid))-kfakeCPU)
	fmt.Printf("peak_rss_mb=%.0f\n", peakRSSMB())

	// Freshness: a steady stream, each record timed from its produce to its commit.
	th.mu.Lock()
	th.on = true
	th.mu.Unlock()
	fresh := int(float64(rate) * freshFor.Seconds())
	if err := produce(ctx, []string{addr}, env.sha, n, fresh, rate); err != nil {
		return err
	}
	if err := waitCaughtUp(ctx, env, group, kadm.NewClient(adm)); err != nil {
		return err
	}
	time.Sleep(flush) // the last flush of the stream
	stop()
	<-done
	th.mu.Lock()
	lat := append([]time.Duration(nil), th.lat...)
	th.mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("peak_rss_after_stream_mb=%.0f\n", peakRSSMB())
	if len(lat) > 0 {
		fmt.Printf("fresh_events=%d\nfresh_rate=%d\nfreshness_p50_s=%.2f\nfreshness_p99_s=%.2f\nflush_s=%.1f\n", len(lat), rate,
			lat[len(lat)/2].Seconds(), lat[len(lat)*99/100].Seconds(), flush.Seconds())
	}

	// The baselines: the same rows (same generator and seed) as Go structs through parquet-go
	// into memory, generation outside the timed part. The comparable one uses the codec and
	// level the ingest writer uses, on as many goroutines as the writer may encode on (each its
	// own file); the single-goroutine runs and the SpeedDefault one (the baseline before the
	// writer's level was matched) are printed beside it.
	files, fileBytes, err := dataFiles(env)
	if err != nil {
		return err
	}
	fmt.Printf("ingest_files=%d\ningest_bytes_per_event=%.1f\n", files, float64(fileBytes)/float64(n+fresh)) // backlog and stream
	par := runtime.GOMAXPROCS(0)
	vs := []*variant{{name: "parquet", level: delta.ZstdLevel, par: par}, {name: "parquet_1g", level: delta.ZstdLevel, par: 1},
		{name: "parquet_default_1g", level: zstd.SpeedDefault, par: 1}}
	if err := baselines(n, vs); err != nil {
		return err
	}
	for _, v := range vs {
		rate := float64(n) / v.spent.Seconds()
		fmt.Printf("%s_events_per_s=%.0f\n%s_bytes_per_event=%.1f\n", v.name, rate, v.name, float64(v.size())/float64(n))
		// CPU per event does not depend on how much of the machine the neighbours took.
		fmt.Printf("%s_cpu_us_per_event=%.2f\n", v.name, v.cpu.Seconds()*1e6/float64(n))
		if v.name == "parquet" {
			fmt.Printf("baseline_goroutines=%d\nratio=%.2f\n", v.par, float64(n)/secs/rate)
			// The same comparison in CPU: the rate ratio two idle cores would give if both
			// used them fully (the worker's CPU includes kgo's fetching and decompression).
			fmt.Printf("cpu_ratio=%.2f\n", v.cpu.Seconds()/workerCPU)
		} else {
			fmt.Printf("ratio_%s=%.2f\n", v.name, float64(n)/secs/rate)
		}
	}
	return nil
}

// counter counts the bytes written through it.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// variant is one bare-encoding baseline: zstd at level, rows split over par writers (one
// goroutine and one file each).
type variant struct {
	name  string
	level zstd.Level
	par   int
	ws    []*parquet.GenericWriter[Row]
	out   []counter
	spent time.Duration
	cpu   time.Duration // this process's CPU time while the variant encoded
}

func (v *variant) size() int64 {
	var n int64
	for _, c := range v.out {
		n += c.n
	}
	return n
}

// each runs f(k, w) for every writer of v on its own goroutine and adds the time to v.spent.
func (v *variant) each(f func(k int, w *parquet.GenericWriter[Row]) error) error {
	t, cpu := time.Now(), processCPU()
	errs := make([]error, len(v.ws))
	var wg sync.WaitGroup
	for k, w := range v.ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = f(k, w)
		}()
	}
	wg.Wait()
	v.spent += time.Since(t)
	v.cpu += processCPU() - cpu
	return errors.Join(errs...)
}

// baselines encodes n generated rows (the backlog's, same generator and seed) with parquet-go's
// GenericWriter for every variant. Each chunk of rows is generated once and encoded by every
// variant in turn, so the variants see the same rows under the same machine load; generation
// is outside the timed part.
func baselines(n int, vs []*variant) error {
	rng := rand.New(rand.NewPCG(0, 7))
	const chunk = 100000
	rows := make([]Row, 0, chunk)
	for _, v := range vs {
		codec := &zstd.Codec{Level: v.level}
		v.out = make([]counter, v.par)
		for k := 0; k < v.par; k++ {
			v.ws = append(v.ws, parquet.NewGenericWriter[Row](&v.out[k], parquet.Compression(codec), parquet.MaxRowsPerRowGroup(128*1024)))
		}
	}
	for i := 0; i < n; i += chunk {
		rows = rows[:0]
		for j := i; j < min(n, i+chunk); j++ {
			_, r := gen(rng, j, time.Now())
			rows = append(rows, r)
		}
		for _, v := range vs {
			err := v.each(func(k int, w *parquet.GenericWriter[Row]) error {
				_, err := w.Write(rows[len(rows)*k/v.par : len(rows)*(k+1)/v.par])
				return err
			})
			if err != nil {
				return err
			}
		}
	}
	for _, v := range vs {
		if err := v.each(func(_ int, w *parquet.GenericWriter[Row]) error { return w.Close() }); err != nil {
			return err
		}
	}
	return nil
}

// dataFiles counts the table's data files and their bytes (everything outside _delta_log).
func dataFiles(e *benchEnv) (int, int64, error) {
	var files int
	var size int64
	root := filepath.Join(e.dir, "lake", e.location)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "_delta_log" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".parquet") {
			info, err := d.Info()
			if err != nil {
				return err
			}
			files++
			size += info.Size()
		}
		return nil
	})
	return files, size, err
}

// processCPU is this process's user+system CPU time (getrusage: finer than /proc's ticks).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuSeconds is the user+system CPU time of a process (/proc/<pid>/stat, clock ticks of 1/100 s).
func cpuSeconds(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var u, sy float64
	fmt.Sscanf(f[11], "%f", &u)
	fmt.Sscanf(f[12], "%f", &sy)
	return (u + sy) / 100
}

// peakRSSMB is the process's peak resident set (VmHWM).
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			return kb / 1024
		}
	}
	return -1
}
