package breaking

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
)

// ownRules are the checks buf cannot make because they live in evctl's options: a prod field
// demoted to staging, and a field that became required (old producers do not send it).
func ownRules(p *config.Project, pr *pair) []Finding {
	var out []Finding
	names := make([]string, 0, len(pr.ct.msgs))
	for n := range pr.ct.msgs {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, n := range names {
		cm := pr.ct.msgs[protoreflect.FullName(n)]
		bm, ok := pr.bt.msgs[cm.FullName()]
		if !ok {
			continue // a record that is new as a whole binds no old producer
		}
		for i := 0; i < cm.Fields().Len(); i++ {
			cf := cm.Fields().Get(i)
			bf := bm.Fields().ByNumber(cf.Number())
			curStage := pr.ct.fieldStage(cf)
			path := pr.ct.fieldPath(cf)
			pos := ownPos(p, pr, cf, path)
			if bf != nil && pr.bt.fieldStage(bf) == contract.StageProd && curStage == contract.StageStaging {
				out = append(out, newFinding(pr.ev.ID(), path, RuleStageDemoted, pos,
					fmt.Sprintf("field %q was prod and is now staging; a prod field never goes back to staging", path)))
			}
			if !evoptions.FieldRequired(cf) || curStage != contract.StageProd {
				continue
			}
			switch {
			case bf == nil:
				out = append(out, newFinding(pr.ev.ID(), path, RuleRequiredAdded, pos,
					fmt.Sprintf("required field %q was added; producers that do not send it yet are rejected", path)))
			case !evoptions.FieldRequired(bf) && pr.bt.fieldStage(bf) == contract.StageProd:
				out = append(out, newFinding(pr.ev.ID(), path, RuleRequiredAdded, pos,
					fmt.Sprintf("field %q became required; producers that leave it out are rejected", path)))
			}
		}
	}
	return out
}

func ownPos(p *config.Project, pr *pair, cf protoreflect.FieldDescriptor, path string) diag.Pos {
	if evoptions.FieldPlatform(cf) {
		if pos, ok := platformPos(p, string(cf.Name())); ok {
			return pos
		}
	}
	if pr.c.out.RawFile != "" && cf.ParentFile().Path() == pr.c.file.Path() {
		loc := cf.ParentFile().SourceLocations().ByDescriptor(cf)
		return rawPos(pr.c, loc.StartLine+1, loc.StartColumn+1)
	}
	return fieldPos(pr.ev, path)
}

// Hint is the one-line fix for a rule family.
func Hint(rule string) string {
	switch {
	case strings.HasPrefix(rule, "FIELD_NO_DELETE"):
		return "reserve the removed field's number and name (reserved: [N, name]) instead of reusing them"
	case strings.HasPrefix(rule, "ENUM_VALUE_NO_DELETE"):
		return "keep the enum value (prod enums only grow); add new values at the end"
	case rule == "ENUM_VALUE_SAME_NAME":
		return "enum values keep their numbers: write values as {name: X, number: N} and add new ones at the end"
	case rule == "FIELD_SAME_NAME" || rule == "FIELD_SAME_JSON_NAME":
		return "a prod field keeps its name (JSON producers send it): add a new field with a new number, or bump major"
	case strings.HasPrefix(rule, "FIELD_"), strings.HasPrefix(rule, "MESSAGE_"), strings.HasPrefix(rule, "ENUM_"):
		return "a prod field keeps its type and mode: add a new field with a new number, or bump major to fork a new topic and table"
	case rule == RuleConsumerFieldUsed:
		return "change the consumer in the same pull request so it no longer uses the field, add a new field beside the old one, or bump major"
	case rule == RuleStageDemoted:
		return "prod is final: keep it prod and add a new staging field, or bump major"
	case rule == RuleRequiredAdded:
		return "add the field as nullable; make it required only in a new major"
	case rule == RuleMessageRenamed:
		return "keep the package and message name, or bump major"
	case rule == RuleBufMissing:
		return "install buf: " + InstallCommand
	case rule == RuleBufFailed:
		return "fix what stopped buf (see the message) and run again"
	case rule == RuleContractInvalid:
		return "fix the contract first: run `evctl lint`"
	case rule == RuleBaselineInvalid:
		return "the baseline cannot be compared; a reviewed waiver for " + RuleBaselineInvalid + " lets the change through"
	case rule == RuleWaiverUnused:
		return "remove the waiver: it matches no breaking change"
	}
	return "bump major to fork a new topic and table, or add a reviewed waiver"
}

// applyWaivers lets through exactly the findings an unexpired waiver names (rule and field), and
// warns about waivers that match nothing.
func applyWaivers(ev *contract.Event, r *EventResult, today string) {
	used := make([]bool, len(ev.Waivers))
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Severity != diag.Error || failClosed[f.Rule] {
			continue
		}
		for j, w := range ev.Waivers {
			if w.Rule != f.Rule || w.Field != f.Field {
				continue
			}
			used[j] = true
			if !live(w.Expires, today) {
				f.Message += fmt.Sprintf(" (its waiver expired on %s)", w.Expires)
				continue
			}
			f.Waived = true
			f.Hint = fmt.Sprintf("waived until %s, approved by %s: %s", w.Expires, w.ApprovedBy, w.Reason)
			break
		}
	}
	for j, w := range ev.Waivers {
		if used[j] {
			continue
		}
		f := newFinding(ev.ID(), w.Field, RuleWaiverUnused, ev.Pos(fmt.Sprintf("waivers[%d]", j)),
			fmt.Sprintf("waiver for %s on %q matches no breaking change against this baseline", w.Rule, w.Field))
		f.Severity = diag.Warning
		r.Findings = append(r.Findings, f)
	}
}

// live reports whether a waiver expiring on exp (YYYY-MM-DD, inclusive) still holds today.
func live(exp, today string) bool {
	t, err := time.Parse(time.DateOnly, exp)
	return err == nil && t.Format(time.DateOnly) >= today
}
