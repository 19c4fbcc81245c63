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
// -client raw (the default) keeps -conns keep-alive HTTP/1.1 connections, each with a goroutine
// that writes a request prepared before the clock starts and reads the answer's status line,
// headers and Content-Length body, one request at a time (no pipelining), as wrk2 does: a due
// read waits for a free connection (and that wait counts). It allocates nothing per read and
// costs a fraction of net/http's client, which matters when the generator shares the gateway's
// machine. -conns defaults to 32: at 10,000 reads/s and ~0.2 ms per answer about 3 reads are in
// flight, so 32 connections absorb a 3 ms stall of the server before a due read waits in the
// client, while 256 (the earlier default) meant 256 server goroutines and connection buffers
// cycled through, which measured more CPU per read on both sides and a worse tail (the sweep is
// in docs/benchmarks.md). -client nethttp uses net/http's client (a goroutine per read, at most
// -conns connections) for comparison.
//
// pkg/data/gateway's BenchmarkCounterRead builds and runs it against its own gateway.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
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
	// LateP99 is the 99th percentile of how late reads were sent after their due time: the
	// generator's own share of the latencies (its timers, its scheduling, its queue).
	LateP99 float64 `json:"late_p99_ms"`
	Rate    float64 `json:"reads_per_s"`
	// The generator's own GC cycles and allocations per read during the timed part: a client
	// that collects adds its pauses to the latencies it measures.
	GC     uint32  `json:"client_gc_cycles"`
	AllocB float64 `json:"client_alloc_bytes_per_read"`
}

func main() {
	var (
		prefix = flag.String("url", "", "URL prefix; the key (\"<i>\", i uniform in [0, keys)) is appended")
		keys   = flag.Int("keys", 100000, "distinct keys")
		rate   = flag.Int("rate", 10000, "reads per second")
		n      = flag.Int("n", 50000, "reads")
		token  = flag.String("token", "", "bearer token")
		conns  = flag.Int("conns", 32, "connections kept (warmed before the clock starts); see the note on -client raw")
		seed   = flag.Int64("seed", 1, "key sequence seed")
		client = flag.String("client", "raw", "raw (prepared requests on kept connections) or nethttp")
		procs  = flag.Int("procs", 0, "GOMAXPROCS (0: the runtime's default)")
	)
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	if *prefix == "" || *n <= 0 || *rate <= 0 {
		fmt.Fprintln(os.Stderr, "readgen: -url, -n > 0 and -rate > 0 are required")
		os.Exit(2)
	}
	var res Result
	switch *client {
	case "raw":
		res = runRaw(*prefix, *keys, *rate, *n, *conns, *token, *seed)
	case "nethttp":
		res = run(*prefix, *keys, *rate, *n, *conns, *token, *seed)
	default:
		fmt.Fprintln(os.Stderr, "readgen: -client is raw or nethttp")
		os.Exit(2)
	}
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
	runtime.GC()
	gc0 := readGC()
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
	gcs, alloc := readGC().since(gc0, n) // before summarize's own allocations
	res := summarize(lat, svc, elapsed, failed.Load(), &first)
	res.GC, res.AllocB = gcs, alloc
	return res
}

// summarize sorts the latencies and makes the result.
func summarize(lat, svc []time.Duration, elapsed time.Duration, failed int64, first *atomic.Value) Result {
	n := len(lat)
	out := Result{Reads: n, Failed: failed, Rate: float64(n) / elapsed.Seconds()}
	if s, ok := first.Load().(string); ok {
		out.First = s
	}
	late := make([]time.Duration, n)
	for i := range late {
		late[i] = lat[i] - svc[i]
	}
	slices.Sort(late)
	out.LateP99 = ms(late[n*99/100])
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	sort.Slice(svc, func(i, j int) bool { return svc[i] < svc[j] })
	out.P50, out.P99, out.P999, out.Max = ms(lat[n/2]), ms(lat[n*99/100]), ms(lat[n*999/1000]), ms(lat[n-1])
	out.SvcP50, out.SvcP99 = ms(svc[n/2]), ms(svc[n*99/100])
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// runRaw is the wrk2-like generator: conns connections, each a goroutine taking due reads from
// one queue, writing the prepared request and reading the answer.
func runRaw(prefix string, keys, rate, n, conns int, token string, seed int64) Result {
	u, err := url.Parse(prefix)
	if err != nil || u.Scheme != "http" {
		fmt.Fprintln(os.Stderr, "readgen: -url must be http://host:port/path")
		os.Exit(2)
	}
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	r := rand.New(rand.NewSource(seed))
	reqs := make([][]byte, n)
	for i := range reqs {
		reqs[i] = []byte("GET " + u.Path + strconv.Itoa(r.Intn(keys)) + " HTTP/1.1\r\nHost: " + u.Host + "\r\n" + auth + "\r\n")
	}
	lat := make([]time.Duration, n)
	svc := make([]time.Duration, n)
	var failed atomic.Int64
	var first atomic.Value
	fail := func(err error) {
		failed.Add(1)
		first.CompareAndSwap(nil, err.Error())
	}
	cs := make([]*rawConn, conns)
	for i := range cs {
		c, err := dialRaw(u.Host)
		if err == nil {
			err = c.do(reqs[i%n], time.Now()) // warm: the connection is open and the server has seen it
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "readgen: connect:", err)
			os.Exit(1)
		}
		cs[i] = c
	}
	// Read i is due at start + i/rate. A dispatcher puts each read on the queue at its due time
	// and a free connection takes it, so a due read waits for a free connection (and the wait
	// counts). A variant without the dispatcher (each free connection claimed the next read and
	// slept until it was due, one wake-up per read instead of two) was measured and dropped: two
	// of its four runs had a p99 of 30 and 72 ms of which the client's own lateness (late_p99)
	// was 28 and 70 ms, while six runs of the dispatcher at 32 connections had 4.0-5.1 ms in
	// five and 14 ms in one (docs/benchmarks.md).
	var start time.Time
	period := time.Second / time.Duration(rate)
	due := func(i int) time.Time { return start.Add(time.Duration(i) * period) }
	jobs := make(chan int, n)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			defer func() { c.conn.Close() }()
			for i := range jobs {
				sent := time.Now()
				if err := c.do(reqs[i], sent); err != nil {
					fail(err)
					c.conn.Close()
					if c, err = dialRaw(u.Host); err != nil {
						fail(err)
						for range jobs { // no connection: the rest of this one's share fails
							fail(err)
						}
						return
					}
				}
				now := time.Now()
				lat[i], svc[i] = now.Sub(due(i)), now.Sub(sent)
			}
		})
	}
	runtime.GC() // the set-up's garbage is collected before the clock starts, not during it
	gc0 := readGC()
	start = time.Now()
	for i := 0; i < n; i++ {
		if d := time.Until(due(i)); d > 0 {
			time.Sleep(d)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	gcs, alloc := readGC().since(gc0, n) // before summarize's own allocations
	res := summarize(lat, svc, elapsed, failed.Load(), &first)
	res.GC, res.AllocB = gcs, alloc
	return res
}

// gcReading is the runtime's count of GC cycles and bytes allocated.
type gcReading struct {
	cycles uint32
	alloc  uint64
}

func readGC() gcReading {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return gcReading{m.NumGC, m.TotalAlloc}
}

// since returns the cycles since r0 and the bytes allocated per read over n reads.
func (r gcReading) since(r0 gcReading, n int) (uint32, float64) {
	return r.cycles - r0.cycles, float64(r.alloc-r0.alloc) / float64(n)
}

// rawConn is one kept-alive HTTP/1.1 connection.
type rawConn struct {
	conn net.Conn
	r    *bufio.Reader
	// setAt is when the connection's deadline was last moved: it is moved once a second, not
	// per read (each move is a timer update in the runtime's poller).
	setAt time.Time
}

func dialRaw(host string) (*rawConn, error) {
	c, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	return &rawConn{conn: c, r: bufio.NewReaderSize(c, 4096)}, nil
}

// do writes req at now and reads one answer: a 200 with a Content-Length body, else an error.
// It allocates nothing on the way of a 200.
func (c *rawConn) do(req []byte, now time.Time) error {
	if now.Sub(c.setAt) > time.Second {
		_ = c.conn.SetDeadline(now.Add(10 * time.Second))
		c.setAt = now
	}
	if _, err := c.conn.Write(req); err != nil {
		return err
	}
	status, err := c.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	ok := bytes.HasPrefix(status, []byte("HTTP/1.1 200 "))
	length := -1
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 { // the blank line after the headers
			break
		}
		if k, v, found := bytes.Cut(line, []byte(":")); found && bytes.EqualFold(k, []byte("Content-Length")) {
			if length = parseLength(bytes.TrimSpace(v)); length < 0 {
				return fmt.Errorf("bad Content-Length %q", v)
			}
		}
	}
	if length < 0 {
		return fmt.Errorf("answer without Content-Length: %q", bytes.TrimSpace(status))
	}
	if _, err := c.r.Discard(length); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("status %q", bytes.TrimSpace(status))
	}
	return nil
}

// parseLength parses a Content-Length value (-1 when it is not one): strconv.Atoi would need a
// string, an allocation per read.
func parseLength(v []byte) int {
	if len(v) == 0 || len(v) > 9 {
		return -1
	}
	n := 0
	for _, d := range v {
		if d < '0' || d > '9' {
			return -1
		}
		n = n*10 + int(d-'0')
	}
	return n
}
