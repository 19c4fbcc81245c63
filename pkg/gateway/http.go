package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/convert"
	"github.com/evctl/evctl/pkg/gateway/ingestv1/ingestv1connect"
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
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", g.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{}))
	path, h := ingestv1connect.NewIngestServiceHandler(&rpcService{g: g})
	mux.Handle(path, h)
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
	Ready      bool   `json:"ready"`
	Generation int64  `json:"generation"`
	Events     int    `json:"events"`
	LoadedAt   string `json:"loaded_at,omitempty"`
	LastError  string `json:"last_error,omitempty"`
}

func (g *Gateway) handleReady(w http.ResponseWriter, _ *http.Request) {
	st := ReadyStatus{LastError: g.registry.LastError()}
	if s := g.registry.Current(); s != nil {
		st.Ready, st.Generation, st.Events, st.LoadedAt = true, s.Generation, len(s.Events), s.LoadedAt.UTC().Format(time.RFC3339)
	}
	code := http.StatusOK
	if !st.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, st)
}

// lookup authenticates, finds the event and authorizes the team for it.
func (g *Gateway) lookup(header http.Header, id string) (*Event, *apiError) {
	team, ok := g.authenticate(header)
	if !ok {
		return nil, refuse(http.StatusUnauthorized, reasonUnauth, "", "a producer token is required: Authorization: Bearer <token>")
	}
	snap := g.registry.Current()
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
	return ev, nil
}

// readBody reads the whole body within MaxBody into a pooled buffer.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) (*[]byte, *apiError) {
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

func (g *Gateway) record(ev *Event, value []byte) *kgo.Record {
	return &kgo.Record{
		Topic: ev.Entry.Topic,
		Key:   keyOf(value, ev.keys),
		Value: value,
		Headers: []kgo.RecordHeader{
			{Key: HeaderEvent, Value: []byte(ev.ID)},
			{Key: HeaderSchema, Value: []byte(ev.Entry.SHA256)},
			{Key: HeaderContentType, Value: []byte(ContentType)},
		},
	}
}

// produce hands every record to the producer and waits for each to be acknowledged or to fail.
// A full buffer fails a record at once (backpressure, not memory).
func (g *Gateway) produce(ctx context.Context, recs []*kgo.Record) []error {
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	wg.Add(len(recs))
	start := time.Now()
	for i, rec := range recs {
		g.kafka.TryProduce(ctx, rec, func(_ *kgo.Record, err error) {
			errs[i] = err
			wg.Done()
		})
	}
	wg.Wait()
	g.metrics.produce.Observe(time.Since(start).Seconds())
	return errs
}

func kafkaError(err error) *apiError {
	return refuse(http.StatusServiceUnavailable, reasonKafka, "", "kafka unavailable, retry: "+err.Error())
}

func (g *Gateway) handleEvent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("domain") + "/" + r.PathValue("event")
	ev, aerr := g.lookup(r.Header, id)
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
	if errs := g.produce(r.Context(), []*kgo.Record{g.record(ev, out)}); errs[0] != nil {
		g.fail(w, kafkaError(errs[0]))
		return
	}
	g.metrics.accepted.WithLabelValues(id).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"accepted":1}`+"\n")
}

type batchLine struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

func (g *Gateway) handleBatch(w http.ResponseWriter, r *http.Request) {
	if _, ok := g.authenticate(r.Header); !ok {
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
	resp := BatchResponse{Rejected: []Rejected{}}
	arena := g.bufs.Get().(*[]byte)
	defer g.bufs.Put(arena)
	type pending struct {
		index      int
		ev         *Event
		start, end int
	}
	var todo []pending
	out := (*arena)[:0]
	for i := 0; len(body) > 0; i++ {
		line := body
		if j := bytes.IndexByte(body, '\n'); j >= 0 {
			line, body = body[:j], body[j+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			i--
			continue
		}
		var bl batchLine
		if err := json.Unmarshal(line, &bl); err != nil || bl.Event == "" || len(bl.Data) == 0 {
			g.metrics.rejected.WithLabelValues(reasonInvalid).Inc()
			resp.Rejected = append(resp.Rejected, Rejected{Index: i, Error: FieldError{Message: `want {"event":"<domain>/<event>","data":{...}}`}})
			continue
		}
		ev, aerr := g.lookup(r.Header, bl.Event)
		if aerr != nil {
			g.metrics.rejected.WithLabelValues(aerr.reason).Inc()
			resp.Rejected = append(resp.Rejected, Rejected{Index: i, Error: aerr.FieldError})
			continue
		}
		start := len(out)
		var err error
		out, err = ev.Plan.Append(out, bl.Data)
		if err != nil {
			aerr := convertError(err)
			g.metrics.rejected.WithLabelValues(aerr.reason).Inc()
			resp.Rejected = append(resp.Rejected, Rejected{Index: i, Error: aerr.FieldError})
			continue
		}
		todo = append(todo, pending{index: i, ev: ev, start: start, end: len(out)})
	}
	*arena = out[:0]
	recs := make([]*kgo.Record, len(todo))
	for k, p := range todo {
		recs[k] = g.record(p.ev, out[p.start:p.end:p.end])
	}
	errs := g.produce(r.Context(), recs)
	var kafkaErr error
	for k, err := range errs {
		if err != nil {
			kafkaErr = err
			g.metrics.rejected.WithLabelValues(reasonKafka).Inc()
			resp.Rejected = append(resp.Rejected, Rejected{Index: todo[k].index, Error: FieldError{Message: "kafka unavailable, retry: " + err.Error()}})
			continue
		}
		resp.Accepted++
		g.metrics.accepted.WithLabelValues(todo[k].ev.ID).Inc()
	}
	if resp.Accepted == 0 && kafkaErr != nil {
		w.Header().Set("Retry-After", RetryAfter)
		writeJSON(w, http.StatusServiceUnavailable, map[string]FieldError{"error": {Message: "kafka unavailable, retry: " + kafkaErr.Error()}})
		return
	}
	sortRejected(resp.Rejected)
	writeJSON(w, http.StatusOK, resp)
}

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
