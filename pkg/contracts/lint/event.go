package lint

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// Rule IDs of event-level rules.
const (
	RuleEventName   = "EVENT_NAME"
	RuleEventUnique = "EVENT_NAME_UNIQUE"
	RuleFileName    = "EVENT_FILE_NAME"
	RuleDomain      = "DOMAIN"
	RuleOwnerTeam   = "OWNER_TEAM"
	RuleOwnerPod    = "OWNER_POD"
	RuleStage       = "STAGE"
	RuleMajor       = "MAJOR"
	RuleDescription = "DESCRIPTION"
	RuleSchema      = "SCHEMA"
	RuleAccess      = "ACCESS_TEAM"
	RuleIngestion   = "INGESTION"
	RuleWaiver      = "WAIVER"
	ruleConfig      = "CONFIG"
)

var snake = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkProject checks evctl.yaml; the findings about platform fields also come back on their own.
func checkProject(ws *workspace.Workspace) (all, platform diag.List) {
	var out diag.List
	p := ws.Project
	if p.Version != 1 {
		out.Add(diag.Errorf(p.Pos("version"), ruleConfig, "version must be 1"))
	}
	for name := range p.Teams {
		if !snake.MatchString(name) {
			out.Add(diag.Errorf(p.Pos("teams."+name), ruleConfig, "team name %q is not snake_case", name))
		}
	}
	seen := map[string]bool{}
	nums := map[int]bool{}
	first := len(out)
	for i := range p.PlatformFields {
		f := &p.PlatformFields[i]
		if seen[f.Name] {
			out.Add(diag.Errorf(p.Pos(f.Path+".name"), ruleConfig, "platform field %q is declared twice", f.Name))
		}
		seen[f.Name] = true
		if f.Number < 1000 || f.Number > 1099 {
			out.Add(diag.Errorf(p.Pos(f.Path+".number"), ruleConfig, "platform field %q has number %d; platform fields take 1000-1099", f.Name, f.Number))
		}
		if nums[f.Number] {
			out.Add(diag.Errorf(p.Pos(f.Path+".number"), ruleConfig, "platform field number %d is used twice", f.Number))
		}
		nums[f.Number] = true
		if !snake.MatchString(f.Name) {
			out.Add(diag.Errorf(p.Pos(f.Path+".name"), ruleConfig, "platform field name %q is not snake_case", f.Name))
		}
		if f.Type == "record" || f.Type == "enum" || f.Type == "map" {
			out.Add(diag.Errorf(p.Pos(f.Path+".type"), ruleConfig, "platform fields are scalars, timestamps or dates; %q is not supported", f.Type))
		} else {
			out.Add(checkTypeMode(f, func(k string) diag.Pos { return p.Pos(f.Path + "." + k) })...)
		}
	}
	platform = append(platform, out[first:]...)
	for name, env := range p.Environments {
		for _, s := range env.Stages {
			if !stageOK(s) {
				out.Add(diag.Errorf(p.Pos("environments."+name+".stages"), ruleConfig, "environment %q: stage %q is not staging or prod", name, s))
			}
		}
		out.Add(checkCounterStore(p.Pos("environments."+name+".counters.store"), name, env.Counters.Store)...)
		out.Add(checkCredentialsStore(p, name, env)...)
	}
	return out, platform
}

func checkUnique(ws *workspace.Workspace) diag.List {
	var out diag.List
	first := map[string]*contract.Event{}
	for _, ev := range ws.Events {
		if prev, ok := first[ev.Name]; ok && ev.Name != "" {
			out.Add(diag.Errorf(ev.Pos("name"), RuleEventUnique, "event name %q is already used by %s", ev.Name, prev.File))
			continue
		}
		first[ev.Name] = ev
	}
	return out
}

func checkEvent(ws *workspace.Workspace, ev *contract.Event, opts Options) diag.List {
	var out diag.List
	p := ws.Project
	switch {
	case ev.Name == "":
		out.Add(diag.Errorf(ev.Pos("name"), RuleEventName, "name is missing"))
	case !snake.MatchString(ev.Name) || len(ev.Name) > 64:
		out.Add(diag.Errorf(ev.Pos("name"), RuleEventName, "event name %q must be snake_case ([a-z][a-z0-9_]*, at most 64 characters)", ev.Name))
	case path.Base(ev.File) != ev.Name+".yaml" && path.Base(ev.File) != ev.Name+".yml":
		out.Add(diag.Errorf(ev.Pos("name"), RuleFileName, "event %q must be in a file named %s.yaml", ev.Name, ev.Name))
	}
	switch {
	case ev.Domain == "":
		out.Add(diag.Errorf(ev.Pos("domain"), RuleDomain, "domain is missing; it must be %q, the folder's name", ev.Dir))
	case !snake.MatchString(ev.Domain):
		out.Add(diag.Errorf(ev.Pos("domain"), RuleDomain, "domain %q must be snake_case", ev.Domain))
	case ev.Domain != ev.Dir:
		out.Add(diag.Errorf(ev.Pos("domain"), RuleDomain, "domain %q does not match the folder %q", ev.Domain, ev.Dir))
	}
	if team, ok := p.Teams[ev.Owner.Team]; !ok {
		out.Add(diag.Errorf(ev.Pos("owner.team"), RuleOwnerTeam, "owner team %q is not a team in evctl.yaml%s", ev.Owner.Team, known(keys(p.Teams))))
	} else if ev.Owner.Pod != "" && !contains(team.Pods, ev.Owner.Pod) {
		out.Add(diag.Errorf(ev.Pos("owner.pod"), RuleOwnerPod, "pod %q is not a pod of team %q%s", ev.Owner.Pod, ev.Owner.Team, known(team.Pods)))
	} else if ev.Owner.Pod == "" && len(team.Pods) > 0 {
		out.Add(diag.Errorf(ev.Pos("owner"), RuleOwnerPod, "owner.pod is missing%s", known(team.Pods)))
	}
	if !stageOK(ev.Stage) {
		out.Add(diag.Errorf(ev.Pos("stage"), RuleStage, "stage %q must be staging or prod", ev.Stage))
	}
	if ev.Major < 1 {
		out.Add(diag.Errorf(ev.Pos("major"), RuleMajor, "major must be 1 or more"))
	}
	if strings.TrimSpace(ev.Description) == "" {
		out.Add(diag.Warnf(ev.Pos("description"), RuleDescription, "the event has no description; consumers read it in the catalog"))
	}
	switch {
	case ev.Schema.Proto != nil && len(ev.Schema.Fields) > 0:
		out.Add(diag.Errorf(ev.Pos("schema.proto"), RuleSchema, "schema has both fields and proto; use one"))
	case ev.Schema.Proto == nil && len(ev.Schema.Fields) == 0:
		out.Add(diag.Errorf(ev.Pos("schema"), RuleSchema, "schema needs fields (the form path) or proto: {file, message} (a raw contract)"))
	case ev.Schema.Proto != nil && ev.Schema.Proto.Message == "":
		out.Add(diag.Errorf(ev.Pos("schema.proto"), RuleSchema, "proto.message is missing"))
	}
	if ev.Schema.Proto == nil {
		out.Add(checkFields(p, ev)...)
	}
	out.Add(checkSinks(p, ev)...)
	for i, team := range ev.Access.Producers {
		if _, ok := p.Teams[team]; !ok {
			out.Add(diag.Errorf(ev.Pos(fmt.Sprintf("access.producers[%d]", i)), RuleAccess, "producer team %q is not a team in evctl.yaml%s", team, known(keys(p.Teams))))
		}
	}
	for i, team := range ev.Access.Consumers {
		if _, ok := p.Teams[team]; !ok {
			out.Add(diag.Errorf(ev.Pos(fmt.Sprintf("access.consumers[%d]", i)), RuleAccess, "consumer team %q is not a team in evctl.yaml%s", team, known(keys(p.Teams))))
		}
	}
	out.Add(checkIngestion(ev)...)
	out.Add(checkWaivers(ev, opts)...)
	return out
}

func checkWaivers(ev *contract.Event, opts Options) diag.List {
	var out diag.List
	today := opts.Today
	if today == "" {
		today = time.Now().UTC().Format(time.DateOnly)
	}
	for i, w := range ev.Waivers {
		at := fmt.Sprintf("waivers[%d]", i)
		for _, k := range []struct{ key, val string }{{"rule", w.Rule}, {"reason", w.Reason}, {"approved_by", w.ApprovedBy}, {"expires", w.Expires}} {
			if strings.TrimSpace(k.val) == "" {
				out.Add(diag.Errorf(ev.Pos(at+"."+k.key), RuleWaiver, "waiver needs %s", k.key))
			}
		}
		if w.Expires == "" {
			continue
		}
		exp, err := time.Parse(time.DateOnly, w.Expires)
		switch {
		case err != nil:
			out.Add(diag.Errorf(ev.Pos(at+".expires"), RuleWaiver, "expires %q is not a date (YYYY-MM-DD)", w.Expires))
		case exp.Format(time.DateOnly) < today:
			out.Add(diag.Errorf(ev.Pos(at+".expires"), RuleWaiver, "waiver for %s on %q expired on %s; remove it or renew it in review", w.Rule, w.Field, w.Expires))
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func known(names []string) string {
	if len(names) == 0 {
		return ""
	}
	sorted := append([]string(nil), names...)
	sortStrings(sorted)
	return " (known: " + strings.Join(sorted, ", ") + ")"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// platformNames returns the platform fields by name.
func platformNames(p *config.Project) map[string]*contract.Field {
	out := map[string]*contract.Field{}
	for i := range p.PlatformFields {
		out[p.PlatformFields[i].Name] = &p.PlatformFields[i]
	}
	return out
}

// checkIngestion checks the ingestion block: the mode, and values the ingest workers would
// refuse at start (a flush or cadence that is not a positive duration, negative max_rows).
func checkIngestion(ev *contract.Event) diag.List {
	var out diag.List
	in := ev.Ingestion
	positive := func(key, v, example string) bool {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			out.Add(diag.Errorf(ev.Pos("ingestion."+key), RuleIngestion, "ingestion.%s %q is not a positive duration such as %s", key, v, example))
			return false
		}
		return true
	}
	switch in.Mode {
	case "", "streaming":
		if in.Cadence != "" {
			out.Add(diag.Warnf(ev.Pos("ingestion.cadence"), RuleIngestion, "ingestion.cadence applies to batch mode only; streaming commits every flush (and at max_rows)"))
		}
	case "batch":
		if in.Cadence == "" {
			out.Add(diag.Errorf(ev.Pos("ingestion.cadence"), RuleIngestion, "batch ingestion needs a cadence such as 1h"))
		} else {
			positive("cadence", in.Cadence, "1h")
		}
	default:
		out.Add(diag.Errorf(ev.Pos("ingestion.mode"), RuleIngestion, "ingestion mode %q must be streaming or batch", in.Mode))
	}
	if in.Flush != "" {
		positive("flush", in.Flush, "30s")
	}
	if in.MaxRows < 0 {
		out.Add(diag.Errorf(ev.Pos("ingestion.max_rows"), RuleIngestion, "ingestion.max_rows %d is negative (omit it for the default, 500000)", in.MaxRows))
	}
	return out
}
