package breaking

import (
	"sort"

	"github.com/evctl/evctl/pkg/contracts/diag"
)

// evctl's own rule IDs. buf's rule IDs (FIELD_SAME_TYPE, ...) are passed through unchanged.
const (
	// RuleStageDemoted: a prod event or field went back to staging.
	RuleStageDemoted = "EVCTL_STAGE_DEMOTED"
	// RuleRequiredAdded: a field became required, or a required field was added, in a prod event.
	RuleRequiredAdded = "EVCTL_FIELD_REQUIRED_ADDED"
	// RuleMessageRenamed: the event's message or its package changed name.
	RuleMessageRenamed = "EVCTL_MESSAGE_RENAMED"
	// RuleBufMissing: buf is not installed, so a changed prod event could not be checked.
	RuleBufMissing = "EVCTL_BUF_MISSING"
	// RuleBufFailed: buf ran but failed, so a changed prod event could not be checked.
	RuleBufFailed = "EVCTL_BUF_FAILED"
	// RuleContractInvalid: the current contract of a prod event does not compile.
	RuleContractInvalid = "EVCTL_CONTRACT_INVALID"
	// RuleBaselineInvalid: the baseline contract of a prod event does not compile.
	RuleBaselineInvalid = "EVCTL_BASELINE_INVALID"
	// RuleWaiverUnused: a waiver matched no finding (a warning: remove it).
	RuleWaiverUnused = "EVCTL_WAIVER_UNUSED"
)

// failClosed rules cannot be waived: they say the check itself could not run.
var failClosed = map[string]bool{RuleBufMissing: true, RuleBufFailed: true, RuleContractInvalid: true}

// Event statuses in a Report.
const (
	StatusNew       = "new"        // no baseline: nothing to break
	StatusMajorBump = "major_bump" // a new major forks new resources
	StatusStaging   = "staging"    // staging events change freely
	StatusUnchanged = "unchanged"  // same effective contract as the baseline
	StatusChecked   = "checked"    // changed prod event, compared field by field
)

// Finding is one breaking change (or a warning about a waiver).
type Finding struct {
	Event    string        `json:"event"`
	Field    string        `json:"field"` // dotted path of field names ("device.model"); "" for the event
	Rule     string        `json:"rule"`
	File     string        `json:"file"`
	Line     int           `json:"line"`
	Column   int           `json:"column"`
	Message  string        `json:"message"`
	Hint     string        `json:"hint"`
	Waived   bool          `json:"waived"`
	Severity diag.Severity `json:"severity"`
}

// Pos is the finding's position.
func (f Finding) Pos() diag.Pos { return diag.Pos{File: f.File, Line: f.Line, Col: f.Column} }

// Failing reports whether the finding fails the check: an unwaived error.
func (f Finding) Failing() bool { return f.Severity == diag.Error && !f.Waived }

// EventResult is the verdict on one event.
type EventResult struct {
	Event    string    `json:"event"`
	Status   string    `json:"status"`
	Blocked  bool      `json:"blocked"`
	Findings []Finding `json:"findings"`
}

// Summary counts a report.
type Summary struct {
	Events   int `json:"events"`   // events in the current repository
	Checked  int `json:"checked"`  // changed prod events compared field by field
	Breaking int `json:"breaking"` // unwaived breaking findings
	Waived   int `json:"waived"`
	Warnings int `json:"warnings"`
	Blocked  int `json:"blocked"` // events with an unwaived breaking finding
}

// Report is the outcome of Check: per-event verdicts, sorted by event ID.
type Report struct {
	// Baseline names what the repository was compared against ("git HEAD~1", "env prod").
	Baseline string        `json:"baseline"`
	Events   []EventResult `json:"events"`
	// BufMissing holds the install command when buf was needed but not found.
	BufMissing string `json:"buf_missing,omitempty"`
}

// Findings returns every finding, sorted by event, file, line and rule.
func (r *Report) Findings() []Finding {
	var out []Finding
	for _, e := range r.Events {
		out = append(out, e.Findings...)
	}
	return out
}

// Event returns the verdict on one event, or nil when it was not in the current repository.
func (r *Report) Event(id string) *EventResult {
	for i := range r.Events {
		if r.Events[i].Event == id {
			return &r.Events[i]
		}
	}
	return nil
}

// Blocked reports whether an event has an unwaived breaking finding (its plan resources are
// blocked), with the findings that block it.
func (r *Report) Blocked(id string) (bool, []Finding) {
	e := r.Event(id)
	if e == nil || !e.Blocked {
		return false, nil
	}
	var out []Finding
	for _, f := range e.Findings {
		if f.Failing() {
			out = append(out, f)
		}
	}
	return true, out
}

// FailingByEvent returns, for every blocked event, the findings that block it: what the plan
// engine needs to mark that event's resources blocked.
func (r *Report) FailingByEvent() map[string][]Finding {
	out := map[string][]Finding{}
	for _, e := range r.Events {
		if blocked, fs := r.Blocked(e.Event); blocked {
			out[e.Event] = fs
		}
	}
	return out
}

// Failed reports whether any finding fails the check.
func (r *Report) Failed() bool {
	for _, e := range r.Events {
		if e.Blocked {
			return true
		}
	}
	return false
}

// Summary counts the report.
func (r *Report) Summary() Summary {
	s := Summary{Events: len(r.Events)}
	for _, e := range r.Events {
		if e.Status == StatusChecked {
			s.Checked++
		}
		if e.Blocked {
			s.Blocked++
		}
		for _, f := range e.Findings {
			switch {
			case f.Severity == diag.Warning:
				s.Warnings++
			case f.Waived:
				s.Waived++
			default:
				s.Breaking++
			}
		}
	}
	return s
}

func (r *Report) finish() {
	sort.Slice(r.Events, func(i, j int) bool { return r.Events[i].Event < r.Events[j].Event })
	for i := range r.Events {
		e := &r.Events[i]
		sortFindings(e.Findings)
		e.Blocked = false
		for _, f := range e.Findings {
			if f.Failing() {
				e.Blocked = true
			}
		}
	}
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
}
