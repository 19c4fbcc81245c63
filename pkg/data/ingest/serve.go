package ingest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

func serve(ctx context.Context, plans []Plan, ln net.Listener) error {
	mux := http.NewServeMux()
	for i, p := range plans {
		h := p.Worker.HTTPHandler()
		path := "/" + p.Sink
		if p.Mode == ModeBatch {
			path += "-" + ModeBatch // a sink's second worker (BigQuery's load jobs)
		}
		mux.Handle(path+"/", http.StripPrefix(path, h))
		if i == 0 {
			mux.Handle("/", h)
		}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
