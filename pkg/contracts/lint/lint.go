// Package lint checks a contracts repository: every rule has a stable ID, a one-line doc and a
// test. Check runs the whole pipeline a command needs (load findings, per-event rules, effective
// contracts, compile, compiled-contract rules) and returns every finding at once with the
// compiled result, so build, generate and export share exactly what lint checks.
package lint

import (
	"context"
	"sort"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/protogen"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/contracts/yamlsrc"
)

// Options tune a check.
type Options struct {
	// SkipGenFresh skips GEN_STALE (generate itself, and commands run before generate).
	SkipGenFresh bool
	// Today is "YYYY-MM-DD" for waiver expiry; empty means the real date.
	Today string
	// SkipSourceInfo compiles without comments and positions, for callers that only report
	// findings (`evctl lint`): Report.Compiled then must not be published or exported.
	SkipSourceInfo bool
	// ForSet compiles for a caller that writes the whole descriptor set and otherwise only
	// checks (compile.CompileForSet): make the set with compile.SetCache; Report.Compiled keeps
	// no source info (no comments for exports or descriptions). Ignored with SkipSourceInfo.
	ForSet bool
}

// Report is the outcome of Check.
type Report struct {
	Diags    diag.List
	Compiled *compile.Result
	Outputs  []*protogen.Output // effective contracts of events that could be generated
}

// Check runs every rule on the workspace.
func Check(ctx context.Context, ws *workspace.Workspace, opts Options) *Report {
	r := &Report{}
	r.Diags.Add(ws.Diags...)
	if ws.Project.Doc == nil {
		// evctl.yaml itself could not be read: every check against teams, platform fields and
		// naming would report the wrong thing, so only the files' own problems are reported.
		r.Compiled, _ = compile.Compile(ctx, ws.Root(), nil)
		r.Diags.Sort()
		return r
	}
	project, platform := checkProject(ws)
	r.Diags.Add(project...)
	r.Diags.Add(checkUnique(ws)...)
	r.Diags.Add(checkCounterNames(ws)...)
	r.Diags.Add(checkConsumers(ws)...)
	for _, ev := range ws.Events {
		r.Diags.Add(checkCounterWindows(ev)...)
		r.Diags.Add(checkCounterMilestones(ev)...)
	}
	// Broken platform fields would make every contract fail to compile, reported in the wrong
	// file; the evctl.yaml findings say what to fix, so no contract is compiled until then.
	platformBroken := platform.HasErrors()
	broken := map[string]bool{} // events whose YAML is too broken to generate
	for _, d := range ws.Diags {
		for _, ev := range ws.Events {
			if ev.File == d.File && d.Severity == diag.Error {
				broken[ev.ID()] = true
			}
		}
	}
	for _, ev := range ws.Events {
		ds := checkEvent(ws, ev, opts)
		r.Diags.Add(ds...)
		if ds.HasErrors() || broken[ev.ID()] || platformBroken {
			continue
		}
		out, ds := ws.Effective(ev)
		r.Diags.Add(ds...)
		if out != nil && !ds.HasErrors() {
			r.Outputs = append(r.Outputs, out)
		}
	}
	sort.Slice(r.Outputs, func(i, j int) bool { return r.Outputs[i].Path < r.Outputs[j].Path })
	// The YAML trees are not needed while compiling, the peak of a run: for 1,200 events they
	// hold 60 MB. A position asked for later (a failing example) parses that file again.
	for _, ev := range ws.Events {
		if ev.Doc != nil {
			ev.Doc.Release()
		}
	}
	var (
		res *compile.Result
		ds  diag.List
	)
	if opts.ForSet && !opts.SkipSourceInfo {
		res, ds = compile.CompileForSet(ctx, ws.Root(), r.Outputs)
	} else {
		res, ds = compile.CompileChecked(ctx, ws.Root(), r.Outputs, !opts.SkipSourceInfo)
	}
	r.Diags.Add(ds...)
	r.Compiled = res
	r.Diags.Add(checkCompiled(ws, res)...)
	// gen/ and CODEOWNERS can only be regenerated once the contracts are sound; until then they
	// would only add noise.
	if !opts.SkipGenFresh && !r.Diags.HasErrors() {
		r.Diags.Add(checkGenFresh(ws, res, r.Outputs)...)
		r.Diags.Add(checkCodeOwners(ws)...)
	}
	r.Diags = dropCascades(r.Diags)
	r.Diags.Sort()
	return r
}

// dropCascades removes findings at the very place a value of the wrong type was reported: the
// value decoded as its zero value, and "major must be 1 or more" under "\"first\" is a string"
// only repeats the problem.
func dropCascades(ds diag.List) diag.List {
	typed := map[diag.Pos]bool{}
	for _, d := range ds {
		if d.Rule == yamlsrc.RuleType {
			typed[d.Pos] = true
		}
	}
	out := ds[:0]
	for _, d := range ds {
		if typed[d.Pos] && d.Rule != yamlsrc.RuleType {
			continue
		}
		out = append(out, d)
	}
	return out
}

// Rule documents one lint rule.
type Rule struct {
	ID  string `json:"id"`
	Doc string `json:"doc"`
}

// Rules lists every rule ID evctl can report, for docs and `evctl lint --rules`.
func Rules() []Rule {
	out := append(append([]Rule(nil), rules...), consumerRules...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

var rules = []Rule{
	{"YAML_SYNTAX", "the file is valid YAML (no tabs, balanced brackets)"},
	{"YAML_DUPLICATE_KEY", "a mapping names each key once"},
	{"YAML_UNKNOWN_KEY", "every key is one evctl knows, anywhere in evctl.yaml and the contracts (typos are caught, with a suggestion); keys of your own start with x-"},
	{"YAML_TYPE", "every value has the type its key takes"},
	{"FILE_TOO_LARGE", "a contract file is at most 1 MiB"},
	{"FILE_READ", "the file can be read"},
	{"REPO_LAYOUT", "events live at contracts/<domain>/<event>.yaml"},
	{"OUTSIDE_REPOSITORY", "no contract file or folder resolves (through a symlink) outside the repository"},
	{"CONFIG", "evctl.yaml is complete and consistent (version, teams, platform fields, environments)"},
	{RuleEventName, "event names are snake_case ([a-z][a-z0-9_]*), at most 64 characters"},
	{RuleEventUnique, "event names are unique in the repository"},
	{RuleFileName, "the file is named after the event: contracts/<domain>/<name>.yaml"},
	{RuleDomain, "domain is snake_case and matches the folder"},
	{RuleOwnerTeam, "owner.team is a team in evctl.yaml"},
	{RuleOwnerPod, "owner.pod is one of the team's pods"},
	{RuleStage, "stage is staging or prod"},
	{RuleMajor, "major is a whole number from 1"},
	{RuleDescription, "the event has a description"},
	{RuleSchema, "schema has either fields or proto, not both, not neither"},
	{RuleFieldName, "field names are snake_case and unique within their record"},
	{RuleFieldNumber, "every field has an explicit number, unique within its record, in 1..536870911 outside 19000-19999"},
	{RuleReservedReused, "a reserved number or name is never used by a field"},
	{RuleFieldType, "the type is one of evctl's types"},
	{RuleFieldMode, "mode is nullable, required or repeated, and fits the type (no repeated map)"},
	{RuleEnumValues, "an enum has values, each UPPER_SNAKE, unique, numbered from 1, not clashing in its scope"},
	{RuleRecord, "a record has fields; other types have none"},
	{RuleMap, "a map names a scalar key_type and a scalar value_type"},
	{RuleRecordDepth, "records nest at most 8 levels"},
	{RuleFieldStage, "a field stage is staging or prod; a staging event has no prod fields"},
	{protogen.RulePlatformClash, "no user field takes a platform field's name or a number in 1000-1099"},
	{RuleKafka, "sinks.kafka: partitions > 0, retention parses (7d, 12h, 30m, -1), key fields exist and are top-level scalars"},
	{RuleBigQuery, "sinks.bigquery: partition_by names a top-level timestamp or date field; cluster_by at most 4 top-level scalar fields"},
	{RuleDelta, "sinks.delta: partition_by names top-level scalar fields or event_date"},
	{RuleClickHouse, "sinks.clickhouse: order_by and group_by name top-level single-value fields; the event has event_time; ttl parses; views and measures are uniquely named; a bucket takes a timestamp; sum takes a number, min/max a number or time"},
	{RuleAccess, "access teams exist in evctl.yaml"},
	{RuleIngestion, "ingestion.mode is streaming or batch; batch takes a cadence; flush and cadence are positive durations; max_rows is not negative"},
	{RuleWaiver, "a waiver names rule, field, reason, approved_by and an expiry date that has not passed"},
	{protogen.RuleProtoPath, "proto.file is a .proto file name in the event's own folder"},
	{protogen.RuleProtoMissing, "the raw .proto exists"},
	{protogen.RuleProtoSyntax, "the raw .proto parses"},
	{protogen.RuleProtoSyntaxV, "the raw .proto is proto3"},
	{protogen.RuleProtoMessage, "proto.message is declared at the top level of the raw .proto"},
	{compile.RuleCompile, "the effective contract compiles"},
	{compile.RuleImportOutside, "raw .proto imports stay inside contracts/"},
	{RuleCounterName, "counter names are snake_case and unique in the repository"},
	{RuleCounterKey, "a counter's key is a top-level string, integer, bool or enum field"},
	{RuleCounterWhere, "a counter's where names top-level scalar fields with values of their type"},
	{RuleCounterSum, "a counter's sum is 1 (count events) or a top-level integer field"},
	{RuleCounterWindows, "a counter's windows parse, below ascends, only the last window has no below"},
	{RuleCounterMilestones, "a counter's milestones are more than 0 and ascend"},
	{RuleExample, "every example converts to the contract (protojson), required fields present"},
	{RuleGenStale, "gen/proto matches the contracts (run `evctl generate`)"},
	{RuleCodeOwnersStale, ".github/CODEOWNERS written by `evctl codeowners` matches the owners (run `evctl codeowners`)"},
}

func stageOK(s string) bool { return s == contract.StageStaging || s == contract.StageProd }
