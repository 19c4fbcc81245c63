package gateway

// The counter read route (SPEC-dataplane 12), kept in this file so the ingestion routes stay
// untouched: GET /v1/counters/{counter}/{key}.

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
)

// CounterReader reads engagement counter values (a counterstore.Store satisfies it).
type CounterReader interface {
	Get(ctx context.Context, counter string, keys []string) ([]int64, error)
}

// OneCounterReader is a CounterReader that also reads a single key without allocating (the
// changelog-fed read cache does): the route uses it when the store offers it, since a
// []string and a []int64 per read are garbage the collector would otherwise run for.
type OneCounterReader interface {
	GetOne(ctx context.Context, counter, key string) (int64, error)
}

// Counters configures the counter read route.
type Counters struct {
	Store CounterReader
	// Known reports whether a counter is declared in the contracts (others are 404).
	Known func(counter string) bool
}

// CounterValue is the route's answer.
type CounterValue struct {
	Counter string `json:"counter"`
	Key     string `json:"key"`
	Value   int64  `json:"value"`
}

// handleCounter answers one counter read. Any team's token may read (the gateway's tokens,
// outside the local environment); an unseen key is 0.
func (g *Gateway) handleCounter(w http.ResponseWriter, r *http.Request) {
	if _, ok := g.authenticate(r.Header); !ok {
		g.fail(w, refuse(http.StatusUnauthorized, "unauthenticated", "", "a valid bearer token is required"))
		return
	}
	c := g.cfg.Counters
	counter, key := r.PathValue("counter"), r.PathValue("key")
	if c == nil || c.Store == nil {
		g.fail(w, refuse(http.StatusNotFound, "unknown_counter", "", "this gateway serves no counters (the environment names no counters.store)"))
		return
	}
	if c.Known != nil && !c.Known(counter) {
		g.fail(w, refuse(http.StatusNotFound, "unknown_counter", "", "unknown counter "+counter))
		return
	}
	v, err := readOne(r.Context(), c.Store, counter, key)
	if err != nil {
		g.log.Warn("counter read failed", "counter", counter, "err", err)
		g.fail(w, refuse(http.StatusServiceUnavailable, "counter_store", "", "the counter store is not available"))
		return
	}
	bp := g.bufs.Get().(*[]byte)
	*bp = appendCounter((*bp)[:0], counter, key, v)
	writeCounter(w, g.jsonType, *bp)
	g.bufs.Put(bp)
}

// readOne reads one key's value, through GetOne when the reader has it.
func readOne(ctx context.Context, s CounterReader, counter, key string) (int64, error) {
	if one, ok := s.(OneCounterReader); ok {
		return one.GetOne(ctx, counter, key)
	}
	vals, err := s.Get(ctx, counter, []string{key})
	if err != nil {
		return 0, err
	}
	return vals[0], nil
}

// appendCounter appends the route's answer, {"counter":...,"key":...,"value":...} and a
// newline, encoded by hand: the route is the gateway's hottest and encoding/json's reflection
// and encoder were a visible part of it. The strings go through json.Marshal when they need
// escaping, so any key is escaped exactly as encoding/json does.
func appendCounter(buf []byte, counter, key string, value int64) []byte {
	buf = append(buf, `{"counter":`...)
	buf = appendJSONString(buf, counter)
	buf = append(buf, `,"key":`...)
	buf = appendJSONString(buf, key)
	buf = append(buf, `,"value":`...)
	buf = strconv.AppendInt(buf, value, 10)
	return append(buf, "}\n"...)
}

// writeCounter answers 200 with body. net/http writes the Content-Length itself (a handler
// that returns after one write smaller than its buffer gets one), so the only header set here
// is the Content-Type, contentType being a slice shared by every answer: the route allocates
// nothing of its own per read.
func writeCounter(w http.ResponseWriter, contentType []string, body []byte) {
	w.Header()["Content-Type"] = contentType[:1:1]
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// appendJSONString appends s as a JSON string: plain printable ASCII (the common key) directly,
// anything else through encoding/json.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
