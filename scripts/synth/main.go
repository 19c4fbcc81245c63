// Command synth writes a synthetic contracts repository for benchmarks (see internal/synth):
//
//	go run ./scripts/synth -n 1200 -seed 1 -out bench/synth
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/evctl/evctl/internal/synth"
)

func main() {
	n := flag.Int("n", 1200, "number of events")
	seed := flag.Uint64("seed", 1, "random seed (same seed and n, same bytes)")
	out := flag.String("out", "", "directory to write (must not hold another repository)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "synth: -out DIR is required")
		os.Exit(2)
	}
	st, err := synth.Generate(context.Background(), *out, synth.Options{N: *n, Seed: *seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "synth: %d events (%d raw protos, %d fields) in %s; %d files in gen/proto and buf-src (%d KiB)\n",
		st.Events, st.Raw, st.Fields, *out, st.GenFiles, st.GenBytes/1024)
}
