package lint

import (
	"sort"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/protogen"
)

// CompiledFunc receives one chunk of the events an incremental check compiled, sorted by ID,
// and the chunk's compile.Result as compile.Each gives it (each file's encoding with source
// info, the descriptors without), before the chunk is let go: a caller that needs the compiled
// contracts too (`evctl plan` and `apply` build descriptor sets and columns from them) takes
// them here instead of compiling the repository a second time. It is called only for events
// loaded and compiled in this run, never for those taken from the cache, and only with chunks
// that compiled without a finding; the events and the Result are read-only. An error stops the
// check with that error.
//
// A check that falls back to the whole pipeline (IncrReport.Fallback) may have handed over
// some chunks first; a caller should then rely on none of them.
type CompiledFunc func(events []*contract.Event, res *compile.Result) error

// handOver gives opts.Compiled the compiled events of a chunk.
func (run *incrRun) handOver(ids []string, byOut map[*protogen.Output]*contract.Event, res *compile.Result) error {
	if run.opts.Compiled == nil {
		return nil
	}
	evs := make([]*contract.Event, 0, len(ids))
	for _, id := range ids {
		if ev := byOut[res.Outputs[id]]; ev != nil {
			evs = append(evs, ev)
		}
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].ID() < evs[j].ID() })
	return run.opts.Compiled(evs, res)
}
