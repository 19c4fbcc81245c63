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
	vals, err := c.Store.Get(r.Context(), counter, []string{key})
	if err != nil {
		g.log.Warn("counter read failed", "counter", counter, "err", err)
		g.fail(w, refuse(http.StatusServiceUnavailable, "counter_store", "", "the counter store is not available"))
		return
	}
	writeCounter(w, CounterValue{Counter: counter, Key: key, Value: vals[0]})
}

// writeCounter answers 200 with v, encoded by hand into one buffer with its Content-Length: the
// route is the gateway's hottest and encoding/json's reflection and encoder were a visible part
// of it. The strings go through json.Marshal, so any key is escaped exactly as before.
func writeCounter(w http.ResponseWriter, v CounterValue) {
	buf := make([]byte, 0, 64+len(v.Counter)+len(v.Key))
	buf = append(buf, `{"counter":`...)
	buf = appendJSONString(buf, v.Counter)
	buf = append(buf, `,"key":`...)
	buf = appendJSONString(buf, v.Key)
	buf = append(buf, `,"value":`...)
	buf = strconv.AppendInt(buf, v.Value, 10)
	buf = append(buf, "}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf)
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
