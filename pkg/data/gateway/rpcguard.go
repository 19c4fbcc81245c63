package gateway

import (
	"net/http"
)

// rpcEnvelope is the gRPC / Connect-streaming message prefix (flags byte and length) that may
// precede a message of MaxBody bytes.
const rpcEnvelope = 5

// guardRPC does for the Connect/gRPC route what the HTTP routes do before reading a body:
// authenticate from the headers, refuse a declared length over the limit, and bound what is
// read. connect-go reads the whole message before a handler (or an interceptor) runs, so this
// must sit in front of it. The message limit itself is connect.WithReadMaxBytes(MaxBody), which
// answers resource_exhausted (also for a message that only decompresses to more).
func (g *Gateway) guardRPC(next http.Handler) http.Handler {
	errw := connectErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := g.authenticate(r.Header); !ok {
			g.failRPC(w, r, errw, refuse(http.StatusUnauthorized, reasonUnauth, "", "a producer token is required: Authorization: Bearer <token>"))
			return
		}
		limit := g.cfg.MaxBody + rpcEnvelope
		if r.ContentLength > limit {
			g.failRPC(w, r, errw, refuse(http.StatusRequestEntityTooLarge, reasonTooLarge, "", "body larger than the limit"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// failRPC answers in the request's protocol when it is one connect-go speaks, else as the
// HTTP routes do.
func (g *Gateway) failRPC(w http.ResponseWriter, r *http.Request, errw errorWriter, e *apiError) {
	if !errw.IsSupported(r) {
		g.fail(w, e)
		return
	}
	g.metrics.rejected.WithLabelValues(e.reason).Inc()
	_ = errw.Write(w, r, rpcError(e))
}

// errorWriter is the part of connect.ErrorWriter used here.
type errorWriter interface {
	IsSupported(*http.Request) bool
	Write(http.ResponseWriter, *http.Request, error) error
}
