package breaking

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// StatusPromoted: the event went from staging to prod; every field was staging in the baseline,
// so nothing it had can break.
const StatusPromoted = "promoted"

// Current is the repository being checked.
type Current struct {
	Workspace *workspace.Workspace
	// Compiled, when the caller compiled already (lint.Check), is reused; when nil, Check
	// compiles only the events it needs.
	Compiled *compile.Result
}

// Options tune Check.
type Options struct {
	// Buf is the buf binary; "" finds it with FindBuf.
	Buf string
	// Getenv reads EVCTL_BUF; nil means os.Getenv.
	Getenv func(string) string
	// Today is "YYYY-MM-DD" for waiver expiry; "" means today (UTC).
	Today string
}

// checkChunk is how many candidate events are compiled and compared at a time: against an
// environment each event's set brings its own copy of the imports (descriptor.proto among them),
// about 1.4 MB per event while its chunk is compared.
const checkChunk = 64

// pair is a changed prod event, compiled on both sides.
type pair struct {
	ev     *contract.Event
	c, b   *event
	ct, bt *tree
	res    *EventResult
}

// Check compares the current repository with a baseline and returns a verdict per current event.
// Only prod events present on both sides with the same major whose effective contract changed
// are compiled and handed to buf, so the cost follows the change, not the repository.
//
// Problems with the contracts, and a missing or failing buf, are findings that block the events
// concerned (fail closed), not errors. The error is for the machine: a temporary directory that
// cannot be written, a cancelled context.
func Check(ctx context.Context, cur Current, base *Baseline, opts Options) (*Report, error) {
	ws := cur.Workspace
	cs := newWorkspaceSide(ws, cur.Compiled)
	bs := base.side
	rep := &Report{Baseline: base.Name}
	results := map[string]*EventResult{}
	var cands []string
	for _, ev := range ws.Events {
		id := ev.ID()
		if results[id] != nil {
			continue
		}
		r := &EventResult{Event: id, Findings: []Finding{}}
		results[id] = r
		c, b := cs.events[id], bs.events[id]
		switch {
		case base.scope != nil && !base.scope[ev.File]:
			r.Status = StatusUnchanged // git says the file is the same as at the baseline
		case b == nil:
			r.Status = StatusNew
		case !sameMajor(ws.Project, base, c, b):
			r.Status = StatusMajorBump
		case c.stage != contract.StageProd:
			r.Status = StatusStaging
			if b.stage == contract.StageProd {
				r.Findings = append(r.Findings, newFinding(id, "", RuleStageDemoted, ev.Pos("stage"),
					fmt.Sprintf("event %s was prod in %s and is now %q; a prod event never goes back to staging", id, base.Name, c.stage)))
			}
		case b.stage != contract.StageProd:
			r.Status = StatusPromoted
		case c.key != "" && c.key == b.key:
			r.Status = StatusUnchanged
		default:
			cands = append(cands, id)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("breaking: %w", err)
	}
	// A chunk at a time, each side compiled (or loaded) and compared; only the changed pairs
	// keep their descriptors, so memory holds one chunk's rather than the repository's.
	var pairs []*pair
	for start := 0; start < len(cands); start += checkChunk {
		part := cands[start:min(start+checkChunk, len(cands))]
		cs.compile(ctx, part)
		bs.compile(ctx, part)
		hash := newHasher(cs, bs)
		for _, id := range part {
			r, c, b := results[id], cs.events[id], bs.events[id]
			switch {
			case c.file == nil:
				r.Status = StatusChecked
				for _, d := range orInvalid(c.bad, c.ev) {
					r.Findings = append(r.Findings, newFinding(id, "", RuleContractInvalid, d.Pos,
						fmt.Sprintf("the contract cannot be checked for breaking changes: %s: %s", d.Rule, d.Message)))
				}
			case b.file == nil:
				r.Status = StatusChecked
				msg := "it does not compile"
				if len(b.bad) > 0 {
					msg = b.bad[0].Message
				}
				r.Findings = append(r.Findings, newFinding(id, "", RuleBaselineInvalid, c.ev.Pos("schema"),
					fmt.Sprintf("the contract in %s cannot be compared: %s", base.Name, msg)))
			case hash.contract(c.file) == hash.contract(b.file):
				r.Status = StatusUnchanged
				c.file, c.msg, b.file, b.msg = nil, nil, nil, nil
				if b.sha != "" {
					b.raw = nil // its own set, read from the store: dropped
				}
			default:
				r.Status = StatusChecked
				pairs = append(pairs, preparePair(ws.Project, base, c, b, r))
			}
		}
		cs.protos, bs.protos = nil, nil
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("breaking: %w", err)
		}
	}
	for _, pr := range pairs {
		pr.res.Findings = append(pr.res.Findings, ownRules(ws.Project, pr)...)
		pr.res.Findings = append(pr.res.Findings, consumerRules(ws.Consumers, pr)...)
	}
	if err := runChecks(ctx, ws.Project, pairs, opts, rep); err != nil {
		return nil, err
	}
	today := opts.Today
	if today == "" {
		today = time.Now().UTC().Format(time.DateOnly)
	}
	for _, ev := range ws.Events {
		if r := results[ev.ID()]; r != nil {
			applyWaivers(ev, r, today)
			rep.Events = append(rep.Events, *r)
			delete(results, ev.ID())
		}
	}
	rep.finish()
	return rep, nil
}

func orInvalid(ds diag.List, ev *contract.Event) diag.List {
	if len(ds) == 0 {
		return diag.List{diag.Errorf(ev.Pos("schema"), RuleContractInvalid, "the contract could not be generated")}
	}
	var out diag.List
	for _, d := range ds {
		if d.Severity == diag.Error {
			out = append(out, d)
		}
	}
	return out
}

// sameMajor tells whether the baseline event is the same major as the current one. Git baselines
// know the major; environments record the topic, which names the major; a bare descriptor set
// only has the message name, which (with the default naming) carries the major in its package.
func sameMajor(p *config.Project, base *Baseline, c, b *event) bool {
	switch {
	case b.major > 0:
		return b.major == c.major
	case b.topic != "" && base.Env != "":
		return b.topic == p.TopicName(base.Env, c.ev)
	case c.out != nil && b.msg != nil:
		return string(b.msg.FullName()) == c.out.Message
	}
	return true // unknown: compare, never skip (fail closed)
}

func newFinding(event, field, rule string, pos diag.Pos, msg string) Finding {
	return Finding{Event: event, Field: field, Rule: rule, File: pos.File, Line: pos.Line, Column: pos.Col,
		Message: msg, Hint: Hint(rule), Severity: diag.Error}
}

// runChecks hands buf the changed events and maps its findings back; without buf, every changed
// event is blocked with the install command.
func runChecks(ctx context.Context, p *config.Project, pairs []*pair, opts Options, rep *Report) error {
	if len(pairs) == 0 {
		return nil
	}
	bin := opts.Buf
	if bin == "" {
		var err error
		if bin, err = FindBuf(opts.Getenv); err != nil {
			rep.BufMissing = InstallCommand
			for _, pr := range pairs {
				pr.res.Findings = append(pr.res.Findings, newFinding(pr.ev.ID(), "", RuleBufMissing, pr.ev.Pos("schema"),
					"this prod contract changed and buf is not installed, so it cannot be checked for breaking changes; install it: "+InstallCommand+" (or set EVCTL_BUF)"))
			}
			return nil
		}
	}
	var curFiles, baseFiles []protoreflect.FileDescriptor
	for _, pr := range pairs {
		curFiles = append(curFiles, pr.c.file)
		baseFiles = append(baseFiles, pr.b.file)
	}
	curSet, err := marshalSet(curFiles, true)
	if err != nil {
		return err
	}
	baseSet, err := marshalSet(baseFiles, false)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "evctl-breaking-")
	if err != nil {
		return fmt.Errorf("breaking: %w", err)
	}
	defer os.RemoveAll(dir)
	found, err := runBuf(ctx, bin, dir, curSet, baseSet, p.Breaking)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("breaking: %w", ctx.Err())
		}
		for _, pr := range pairs {
			pr.res.Findings = append(pr.res.Findings, newFinding(pr.ev.ID(), "", RuleBufFailed, pr.ev.Pos("schema"),
				"buf could not check this changed prod contract: "+err.Error()))
		}
		return nil
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].less(found[j]) })
	for _, bf := range found {
		for _, pr := range owners(pairs, bf.Path) {
			if f, keep := mapFinding(p, pr, bf); keep {
				pr.res.Findings = append(pr.res.Findings, f)
			}
		}
	}
	return nil
}

// owners are the events a finding in file path belongs to: the event whose effective contract
// it is, else every changed event that imports it (a shared raw .proto).
func owners(pairs []*pair, path string) []*pair {
	for _, pr := range pairs {
		if pr.c.file.Path() == path {
			return []*pair{pr}
		}
	}
	var out []*pair
	for _, pr := range pairs {
		for _, f := range closure([]protoreflect.FileDescriptor{pr.c.file}) {
			if f.Path() == path {
				out = append(out, pr)
				break
			}
		}
	}
	return out
}
