// Command loadgen drives an evctl gateway over loopback and reports events/s and latency
// percentiles for single-event and batched requests. By default it starts everything in this
// process: kfake (real produce, or -blackhole to isolate the gateway), a file:// descriptor
// store with the repository's feed/video_played, and the gateway on a loopback port.
//
//	go run ./scripts/loadgen -duration 10s -conns 32 -batch 100
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/data/gateway"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

const event = "feed/video_played"

// gwLinger is the gateway's Config.Linger.
var gwLinger time.Duration

// bodies are the request bodies of a mode, built before the clock starts so that the load
// generator spends its share of the machine on HTTP, not on formatting JSON.
const bodies = 256

func main() {
	var (
		duration  = flag.Duration("duration", 10*time.Second, "how long each mode runs")
		conns     = flag.Int("conns", 32, "concurrent connections")
		batch     = flag.Int("batch", 100, "events per batch request")
		blackhole = flag.Bool("blackhole", false, "kfake accepts produce requests without storing them (isolates the gateway)")
		modes     = flag.String("modes", "single,batch", "modes to run")
		repo      = flag.String("repo", ".", "contracts repository root")
		linger    = flag.Duration("linger", 0, "gateway producer linger (0: the gateway's default; negative: none)")
		cpuprof   = flag.String("cpuprofile", "", "write a CPU profile of the whole process (gateway, kfake and load) to this file")
	)
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	gwLinger = *linger
	if err := run(*repo, *duration, *conns, *batch, *blackhole, strings.Split(*modes, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(repo string, d time.Duration, conns, batch int, blackhole bool, modes []string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, stop, err := startStack(ctx, repo, blackhole)
	if err != nil {
		return err
	}
	defer stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
	fmt.Printf("gateway %s, %d connections, %s per mode, kafka %s\n", url, conns, d, map[bool]string{true: "blackhole", false: "kfake (real produce)"}[blackhole])
	fmt.Printf("%-8s %10s %12s %10s %10s %10s\n", "mode", "requests", "events/s", "p50", "p99", "errors")
	for _, m := range modes {
		n := 1
		if m == "batch" {
			n = batch
		}
		res := drive(client, url, m, n, conns, d)
		fmt.Printf("%-8s %10d %12.0f %10s %10s %10d\n", m, res.requests, float64(res.events)/d.Seconds(), res.pct(50), res.pct(99), res.errors)
	}
	return nil
}

type result struct {
	requests, events, errors int64
	lat                      []time.Duration
}

func (r *result) pct(p int) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	return r.lat[(len(r.lat)-1)*p/100].Round(10 * time.Microsecond)
}

// body is one request: a single event, or n NDJSON lines. Events differ in video_id and
// watch_ms; event_id and received_at are left to the gateway, as clients do.
func body(mode string, n int, seq *int64) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		*seq++
		id := *seq
		ev := fmt.Sprintf(`{"video_id":"v_%06d","watch_ms":%d,"quality":"HD","tags":["comedy","shorts","trending"],`+
			`"device":{"model":"Pixel 8 Pro","os_version":"Android 15"},`+
			`"event_time":"2026-11-01T10:00:00.250Z","app":"moj","platform":"android","user_id":"u_4c2e9a7b","experiment":"ranker_v2"}`,
			id%100000, id*37%600000)
		if mode == "single" {
			return []byte(ev)
		}
		b.WriteString(`{"event":"` + event + `","data":` + ev + "}\n")
	}
	return b.Bytes()
}

func drive(client *http.Client, url, mode string, n, conns int, d time.Duration) *result {
	var (
		mu   sync.Mutex
		res  = &result{}
		next atomic.Int64
		wg   sync.WaitGroup
		seq  int64
		pre  = make([][]byte, bodies)
	)
	for i := range pre {
		pre[i] = body(mode, n, &seq)
	}
	target := url + "/v1/events/" + event
	if mode == "batch" {
		target = url + "/v1/batch"
	}
	deadline := time.Now().Add(d)
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var reqs, evs, errs int64
			for time.Now().Before(deadline) {
				b := pre[next.Add(1)%bodies]
				start := time.Now()
				resp, err := client.Post(target, "application/json", bytes.NewReader(b))
				if err != nil {
					errs++
					continue
				}
				var out struct{ Accepted int64 }
				_ = json.NewDecoder(resp.Body).Decode(&out)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(start))
				reqs++
				if resp.StatusCode/100 != 2 {
					errs++
					continue
				}
				evs += out.Accepted
			}
			mu.Lock()
			res.requests += reqs
			res.events += evs
			res.errors += errs
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return res
}

// startStack starts kfake, publishes the event's descriptor to a file:// store, creates its topic
// and starts the gateway on a loopback port.
func startStack(ctx context.Context, repo string, blackhole bool) (string, func(), error) {
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if blackhole {
		opts = append(opts, kfake.BlackholeProduce())
	}
	kc, err := kfake.NewCluster(opts...)
	if err != nil {
		return "", nil, err
	}
	seeds := []kgo.Opt{kgo.SeedBrokers(kc.ListenAddrs()...)}
	ws, err := workspace.Open("", repo)
	if err != nil {
		return "", nil, err
	}
	rep := lint.Check(ctx, ws, lint.Options{SkipGenFresh: true})
	md, ok := rep.Compiled.Messages[event]
	if !ok {
		return "", nil, fmt.Errorf("%s did not compile", event)
	}
	set, err := compile.Marshal(compile.FileSet(rep.Compiled, []string{event}))
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "evctl-loadgen")
	if err != nil {
		return "", nil, err
	}
	st, err := blob.Open(ctx, "file://"+dir)
	if err != nil {
		return "", nil, err
	}
	sha := compile.SHA256(set)
	topic := "load.feed.video_played.v1"
	entries := map[string]descstore.Entry{event: {Message: string(md.FullName()), Topic: topic, SHA256: sha, Stage: "prod"}}
	if err := descstore.Publish(ctx, st, entries, map[string][]byte{sha: set}); err != nil {
		return "", nil, err
	}
	acl, err := kgo.NewClient(seeds...)
	if err != nil {
		return "", nil, err
	}
	if _, err := kadm.NewClient(acl).CreateTopic(ctx, 12, 1, nil, topic); err != nil {
		return "", nil, err
	}
	acl.Close()
	gw, err := gateway.New(ctx, gateway.Config{
		Store: st, Kafka: seeds, Keys: func(string) []string { return []string{"video_id"} }, Linger: gwLinger,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	sctx, scancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- gw.Serve(sctx, ln) }()
	stop := func() {
		scancel()
		<-done
		gw.Close()
		kc.Close()
		os.RemoveAll(dir)
	}
	return "http://" + ln.Addr().String(), stop, nil
}
