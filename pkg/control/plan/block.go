package plan

import (
	"fmt"
	"sort"

	"github.com/evctl/evctl/pkg/control/sink"
)

// Block records breaking findings and blocks every change of the events they name: a prod
// contract that would break its consumers provisions nothing until it is fixed or waived.
func (p *Plan) Block(findings map[string][]Breaking) {
	for id, fs := range findings {
		if len(fs) == 0 {
			continue
		}
		p.Breaking = append(p.Breaking, fs...)
		for i := range p.Changes {
			c := &p.Changes[i]
			if c.Event == id && c.Action != sink.Noop && c.Action != sink.Skipped {
				c.Action = sink.Blocked
				c.Reason = fmt.Sprintf("breaking change in a prod contract: %s on %s", fs[0].Rule, fs[0].Field)
			}
		}
	}
	sort.SliceStable(p.Breaking, func(i, j int) bool {
		if p.Breaking[i].Event != p.Breaking[j].Event {
			return p.Breaking[i].Event < p.Breaking[j].Event
		}
		return p.Breaking[i].Field < p.Breaking[j].Field
	})
	p.Summary = summarize(p.Changes)
}
