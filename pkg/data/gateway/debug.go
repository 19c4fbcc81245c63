package gateway

import (
	"net/http"
	"net/http/pprof"
)

// debugHandler serves the Go runtime's profiles (net/http/pprof) under /debug/pprof/, and
// nothing else. It is mounted only on Config.Debug, a listener of its own: profiles show
// internals (goroutine stacks, the command line) and cost CPU while taken, so they never share
// the public port, and a gateway without --pprof-addr serves none.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
