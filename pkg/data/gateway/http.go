package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/data/convert"
	"github.com/evctl/evctl/pkg/data/gateway/ingestv1/ingestv1connect"
)

// FieldError is the "error" object of a response: the field path (empty for the event as a
// whole) and what is wrong.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Rejected is one refused line of a batch.
type Rejected struct {
	Index int        `json:"index"`
	Error FieldError `json:"error"`
}

// BatchResponse is the 200 body of POST /v1/batch.
type BatchResponse struct {
	Accepted int        `json:"accepted"`
	Rejected []Rejected `json:"rejected"`
}

// apiError is a refusal with its HTTP status and metric reason.
type apiError struct {
	status int
	reason string
	FieldError
}

func (e *apiError) Error() string { return e.Message }

func refuse(status int, reason, field, msg string) *apiError {
	return &apiError{status: status, reason: reason, FieldError: FieldError{Field: field, Message: msg}}
}

// Handler returns the gateway's routes: the SPEC 6 HTTP API, the Connect/gRPC service, health
// and metrics, behind the CORS policy.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events/{domain}/{event}", g.handleEvent)
	mux.HandleFunc("POST /v1/batch", g.handleBatch)
	mux.HandleFunc("GET /v1/counters/{counter}/{key}", g.handleCounter)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", g.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{}))
	path, h := ingestv1connect.NewIngestServiceHandler(&rpcService{g: g}, connect.WithReadMaxBytes(int(g.cfg.MaxBody)))
	mux.Handle(path, g.guardRPC(h))
	return g.cors(mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (g *Gateway) fail(w http.ResponseWriter, e *apiError) {
	g.metrics.rejected.WithLabelValues(e.reason).Inc()
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", RetryAfter)
	}
	writeJSON(w, e.status, map[string]FieldError{"error": e.FieldError})
}

// ReadyStatus is the body of /readyz.
type ReadyStatus struct {
	Ready      bool  `json:"ready"`
	Generation int64 `json:"generation"`
	Events     int   `json:"events"`
	// Loaded counts the events whose descriptors are loaded (each is loaded on its first
	// request): the rest cost nothing until used.
	Loaded    int    `json:"loaded"`
	LoadedAt  string `json:"loaded_at,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

func (g *Gateway) handleReady(w http.ResponseWriter, _ *http.Request) {
	st := ReadyStatus{LastError: g.registry.LastError()}
	if s := g.registry.Current(); s != nil {
		st.Ready, st.Generation, st.Events, st.LoadedAt = true, s.Generation, len(s.Events), s.LoadedAt.UTC().Format(time.RFC3339)
		st.Loaded = s.loaded()
	}
	code := http.StatusOK
	if !st.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, st)
}

// lookup authenticates, finds the event, authorizes the team for it and loads it.
func (g *Gateway) lookup(ctx context.Context, header http.Header, id string) (*Loaded, *apiError) {
	team, ok := g.authenticate(header)
	if !ok {
		return nil, refuse(http.StatusUnauthorized, reasonUnauth, "", "a producer token is required: Authorization: Bearer <token>")
	}
	return g.find(ctx, g.registry.Current(), team, id)
}

// find returns the event id of snap, if team may publish it, loaded (its first request fetches
// and builds its descriptors; an event refused for another reason is never loaded).
func (g *Gateway) find(ctx context.Context, snap *Snapshot, team, id string) (*Loaded, *apiError) {
	if snap == nil {
		return nil, refuse(http.StatusServiceUnavailable, reasonKafka, "", "no descriptors loaded yet")
	}
	ev := snap.Events[id]
	if ev == nil {
		return nil, refuse(http.StatusNotFound, reasonUnknownEvent, "", "unknown event "+id)
	}
	if !g.authorized(team, id) {
		return nil, refuse(http.StatusForbidden, reasonForbidden, "", "team "+team+" may not publish "+id+" (access.producers)")
	}
	l, err := ev.Load(ctx)
	if err != nil {
		g.log.Error("event descriptors unavailable", "event", id, "err", err)
		return nil, refuse(http.StatusServiceUnavailable, reasonDescriptors, "", "the descriptors of "+id+" cannot be loaded, retry: "+err.Error())
	}
	return l, nil
}

// readBody reads the whole body within MaxBody into a pooled buffer.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) (*[]byte, *apiError) {
	if r.ContentLength > g.cfg.MaxBody { // refused before a byte of it is read
		return nil, refuse(http.StatusRequestEntityTooLarge, reasonTooLarge, "", "body larger than the limit")
	}
	bp := g.bufs.Get().(*[]byte)
	buf := bytes.NewBuffer((*bp)[:0])
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, g.cfg.MaxBody))
	*bp = buf.Bytes()
	if err != nil {
		g.bufs.Put(bp)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, refuse(http.StatusRequestEntityTooLarge, reasonTooLarge, "", "body larger than the limit")
		}
		return nil, refuse(http.StatusBadRequest, reasonInvalid, "", "reading the body: "+err.Error())
	}
	return bp, nil
}

func convertError(err error) *apiError {
	var ce *convert.Error
	if errors.As(err, &ce) {
		if ce.Limit {
			return refuse(http.StatusRequestEntityTooLarge, reasonTooLarge, ce.Field, ce.Message)
		}
		return refuse(http.StatusBadRequest, reasonInvalid, ce.Field, ce.Message)
	}
	return refuse(http.StatusBadRequest, reasonInvalid, "", err.Error())
}

// flight is the records of one request on their way to Kafka: the records, their keys and
// their outcomes, pooled and reused across requests.
type flight struct {
	recs  []kgo.Record
	evs   []*Loaded // the event of each record (held: an eviction meanwhile must not lose it)
	line  []int     // the batch line of each record
	limit []int64   // the largest record each record's topic accepts (0: unknown)
	keys  []byte
	wg    sync.WaitGroup
	mu    sync.Mutex
	errs  []error // nil until a record fails
	cb    func(*kgo.Record, error)
	first *kgo.Record
}

var flights = sync.Pool{New: func() any {
	f := &flight{}
	f.cb = f.done
	return f
}}

func getFlight() *flight { return flights.Get().(*flight) }

func putFlight(f *flight) {
	if cap(f.recs) > 1<<14 {
		return // an unusually large batch: let the collector have it
	}
	clear(f.recs)
	clear(f.evs)
	f.evs = f.evs[:0]
	f.recs, f.line, f.limit, f.keys, f.errs, f.first = f.recs[:0], f.line[:0], f.limit[:0], f.keys[:0], nil, nil
	flights.Put(f)
}

// add appends the record of value (an event of ev) from batch line i.
func (f *flight) add(ev *Loaded, value []byte, i int) {
	var key []byte
	if len(ev.keys) > 0 {
		start := len(f.keys)
		f.keys = appendKey(f.keys, value, ev.keys)
		key = f.keys[start:len(f.keys):len(f.keys)]
	}
	f.recs = append(f.recs, kgo.Record{Topic: ev.Entry.Topic, Key: key, Value: value, Headers: ev.headers})
	f.evs = append(f.evs, ev)
	f.line = append(f.line, i)
	f.limit = append(f.limit, ev.maxRecord.Load())
}

// done is the promise of every record of the flight.
func (f *flight) done(r *kgo.Record, err error) {
	if err != nil {
		f.fail(int((uintptr(unsafe.Pointer(r))-uintptr(unsafe.Pointer(f.first)))/unsafe.Sizeof(kgo.Record{})), err)
	}
	f.wg.Done()
}

// fail records the outcome of record i.
func (f *flight) fail(i int, err error) {
	f.mu.Lock()
	if f.errs == nil {
		f.errs = make([]error, len(f.recs))
	}
	f.errs[i] = err
	f.mu.Unlock()
}

// err returns the outcome of record k.
func (f *flight) err(k int) error {
	if f.errs == nil {
		return nil
	}
	return f.errs[k]
}

// produce hands every record of f to the producer and waits for each to be acknowledged or to
// fail. A full buffer fails a record at once (backpressure, not memory).
func (g *Gateway) produce(ctx context.Context, f *flight) {
	if len(f.recs) == 0 {
		return
	}
	f.first = &f.recs[0]
	f.wg.Add(len(f.recs))
	start := time.Now()
	var handed int64
	for k := range f.recs {
		if l := f.limit[k]; l > 0 {
			if n := recordSize(&f.recs[k]); n > l {
				f.fail(k, &tooLargeError{size: n, limit: l})
				f.wg.Done()
				continue
			}
		}
		cl, err := g.kafka.forTopic(f.recs[k].Topic)
		if err == nil && g.buffered.Add(1) > int64(g.cfg.MaxBuffered) {
			g.buffered.Add(-1)
			err = kgo.ErrMaxBuffered // what one client's full buffer answers
		}
		if err != nil {
			f.fail(k, err)
			f.wg.Done()
			continue
		}
		handed++
		cl.TryProduce(ctx, &f.recs[k], f.cb)
	}
	f.wg.Wait()
	g.buffered.Add(-handed)
	g.metrics.produce.Observe(time.Since(start).Seconds())
}

func (g *Gateway) handleEvent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("domain") + "/" + r.PathValue("event")
	ev, aerr := g.lookup(r.Context(), r.Header, id)
	if aerr != nil {
		g.fail(w, aerr)
		return
	}
	bp, aerr := g.readBody(w, r)
	if aerr != nil {
		g.fail(w, aerr)
		return
	}
	defer g.bufs.Put(bp)
	vp := g.bufs.Get().(*[]byte)
	defer g.bufs.Put(vp)
	out, err := ev.Plan.Append((*vp)[:0], *bp)
	*vp = out[:0]
	if err != nil {
		g.fail(w, convertError(err))
		return
	}
	f := getFlight()
	defer putFlight(f)
	f.add(ev, out, 0)
	if g.produce(r.Context(), f); f.err(0) != nil {
		g.fail(w, kafkaError(f.err(0)))
		return
	}
	ev.accepted.Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"accepted":1}`+"\n")
}

type batchLine struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

const envelopeHint = `want {"event":"<domain>/<event>","data":{...}}`

// envelope splits a batch line written exactly as `{"event":"<name>","data":<data>}` (the
// form clients write) without decoding it: the name must be printable ASCII without escapes.
// Any other spelling reports false and goes through encoding/json; so does a line whose data
// the converter refuses, in case the envelope had more to it than this reading saw.
func envelope(line []byte) (event, data []byte, ok bool) {
	const open, mid = `{"event":"`, `","data":`
	if len(line) < len(open)+len(mid)+2 || string(line[:len(open)]) != open || line[len(line)-1] != '}' {
		return nil, nil, false
	}
	rest := line[len(open) : len(line)-1]
	for i, c := range rest {
		if c == '"' {
			if i == 0 || len(rest)-i < len(mid) || string(rest[i:i+len(mid)]) != mid {
				return nil, nil, false
			}
			data = rest[i+len(mid):]
			if len(bytes.TrimSpace(data)) == 0 {
				return nil, nil, false
			}
			return rest[:i], data, true
		}
		if c < 0x20 || c > 0x7e || c == '\\' {
			return nil, nil, false
		}
	}
	return nil, nil, false
}

func (g *Gateway) handleBatch(w http.ResponseWriter, r *http.Request) {
	team, ok := g.authenticate(r.Header)
	if !ok {
		g.fail(w, refuse(http.StatusUnauthorized, reasonUnauth, "", "a producer token is required: Authorization: Bearer <token>"))
		return
	}
	bp, aerr := g.readBody(w, r)
	if aerr != nil {
		g.fail(w, aerr)
		return
	}
	defer g.bufs.Put(bp)
	body := *bp
	if n := bytes.Count(body, []byte{'\n'}); n > g.cfg.MaxBatchLines {
		g.fail(w, refuse(http.StatusRequestEntityTooLarge, reasonTooLarge, "", "more lines than the batch limit"))
		return
	}
	snap := g.registry.Current()
	resp := BatchResponse{Rejected: []Rejected{}}
	reject := func(i int, aerr *apiError) {
		g.metrics.rejected.WithLabelValues(aerr.reason).Inc()
		resp.Rejected = append(resp.Rejected, Rejected{Index: i, Error: aerr.FieldError})
	}
	arena := g.bufs.Get().(*[]byte)
	defer g.bufs.Put(arena)
	f := getFlight()
	defer putFlight(f)
	out := (*arena)[:0]
	for i := 0; len(body) > 0; i++ {
		line := body
		if j := bytes.IndexByte(body, '\n'); j >= 0 {
			line, body = body[:j], body[j+1:]
		} else {
			body = nil
		}
		// index is the 0-based line of the body (SPEC 6): blank lines are skipped but counted.
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		start := len(out)
		name, data, fast := envelope(line)
		if fast {
			if ev, aerr := g.find(r.Context(), snap, team, ustr(name)); aerr == nil {
				var err error
				if out, err = ev.Plan.Append(out, data); err == nil {
					f.add(ev, out[start:len(out):len(out)], i)
					continue
				}
			}
			// Refused: decode the envelope properly, for the right answer.
		}
		var bl batchLine
		if err := json.Unmarshal(line, &bl); err != nil || bl.Event == "" || len(bl.Data) == 0 {
			reject(i, refuse(http.StatusBadRequest, reasonInvalid, "", envelopeHint))
			continue
		}
		ev, aerr := g.find(r.Context(), snap, team, bl.Event)
		if aerr != nil {
			reject(i, aerr)
			continue
		}
		var err error
		out, err = ev.Plan.Append(out, bl.Data)
		if err != nil {
			reject(i, convertError(err))
			continue
		}
		f.add(ev, out[start:len(out):len(out)], i)
	}
	*arena = out[:0]
	g.produce(r.Context(), f)
	var kafkaErr *apiError // the last transient failure
	permanent := false     // a record Kafka will never take: the batch must not be retried whole
	var last *Loaded
	n := 0
	for k := range f.recs {
		if err := f.err(k); err != nil {
			aerr := kafkaError(err)
			if aerr.status == http.StatusServiceUnavailable {
				kafkaErr = aerr
			} else {
				permanent = true
			}
			reject(f.line[k], aerr)
			continue
		}
		resp.Accepted++
		ev := f.evs[k]
		if ev != last {
			if last != nil {
				last.accepted.Add(float64(n))
			}
			last, n = ev, 0
		}
		n++
	}
	if last != nil {
		last.accepted.Add(float64(n))
	}
	if resp.Accepted == 0 && kafkaErr != nil && !permanent {
		w.Header().Set("Retry-After", RetryAfter)
		writeJSON(w, http.StatusServiceUnavailable, map[string]FieldError{"error": kafkaErr.FieldError})
		return
	}
	if len(resp.Rejected) == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		b := append((*arena)[:0], `{"accepted":`...)
		b = strconv.AppendInt(b, int64(resp.Accepted), 10)
		b = append(b, `,"rejected":[]}`+"\n"...)
		_, _ = w.Write(b)
		*arena = b[:0]
		return
	}
	sortRejected(resp.Rejected)
	writeJSON(w, http.StatusOK, resp)
}

// ustr views b as a string without copying, for map lookups.
func ustr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// cors applies the configured origins: allowed origins get the CORS headers, and preflight
// requests are answered here.
func (g *Gateway) cors(next http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, o := range g.cfg.CORSOrigins {
		allowed[strings.TrimSuffix(o, "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && (allowed["*"] || allowed[origin]) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Connect-Protocol-Version, Connect-Timeout-Ms, X-Grpc-Web, X-User-Agent")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
