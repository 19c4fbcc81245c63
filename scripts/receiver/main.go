// Command receiver is the small HTTP receiver `make demo` delivers a consumer's events to: it
// listens on loopback, answers 200, drops repeats by Idempotency-Key (as a receiver of an
// at-least-once stream should) and prints one line per new delivery: the evctl-event and
// Idempotency-Key headers and the body.
//
//	go run ./scripts/receiver -listen 127.0.0.1:0   # prints "listening http://ADDR" first
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("receiver: %v", err)
	}
	fmt.Printf("listening http://%s\n", ln.Addr())
	var mu sync.Mutex
	seen := map[string]bool{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		key := r.Header.Get("Idempotency-Key")
		mu.Lock()
		dup := key != "" && seen[key]
		seen[key] = true
		mu.Unlock()
		if !dup {
			fmt.Fprintf(os.Stdout, "%s %s %s %s\n", r.Method, r.Header.Get("evctl-event"), key, bytes.TrimSpace(body))
		}
		w.WriteHeader(http.StatusOK)
	})
	log.Fatal(http.Serve(ln, h))
}
