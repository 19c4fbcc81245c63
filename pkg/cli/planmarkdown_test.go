package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
)

// showMarkdown saves p as `evctl plan --out` does and renders it with `evctl show -o markdown`.
func showMarkdown(t *testing.T, p *plan.Plan) string {
	t.Helper()
	dir := t.TempDir()
	b, err := plan.NewSaved(p, "", "", time.Now()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.evplan"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, dir, "show", "p.evplan", "-o", "markdown")
	if code != 0 {
		t.Fatalf("show: exit %d: %s", code, errOut)
	}
	return out
}

// eventChanges is what a changed contract plans in an environment: its descriptor updated field
// by field, its topic's retention, three ACLs.
func eventChanges(ev string) []sink.Change {
	domain, name, _ := strings.Cut(ev, "/")
	topic := "prod." + domain + "." + name + ".v1"
	cs := []sink.Change{
		{Event: ev, Kind: "descriptor", Name: ev, Action: sink.Update, Diff: []sink.DiffEntry{
			{Path: "sha256", From: strings.Repeat("a", 64), To: strings.Repeat("b", 64)},
			{Path: "fields.amount", From: "int64 amount = 2", To: "string amount = 2"},
			{Path: "fields.coupon", From: "string coupon = 3"},
			{Path: "fields.note", To: "optional string note = 4"},
			{Path: "fields.address.zip", To: "string zip = 2"},
			{Path: "fields.tags", To: "map<string, string> tags = 5"},
		}},
		{Event: ev, Kind: "kafka_topic", Name: topic, Action: sink.Update, Diff: []sink.DiffEntry{{Path: "configs.retention.ms", From: "86400000", To: "604800000"}}},
	}
	for _, team := range []string{"analytics", "growth", "search"} {
		cs = append(cs, sink.Change{Event: ev, Kind: "kafka_acl", Name: topic + "|User:" + team + "|READ", Action: sink.Create,
			Diff: []sink.DiffEntry{}, Reason: "consumer " + team + " added to access.consumers of the contract"})
	}
	return cs
}

func summarize(cs []sink.Change) plan.Summary {
	var s plan.Summary
	for _, c := range cs {
		switch c.Action {
		case sink.Create:
			s.Create++
		case sink.Update:
			s.Update++
		case sink.Blocked:
			s.Blocked++
		}
	}
	return s
}

// TestPlanMarkdown200Events: the comment of a 200-event plan stays under GitHub's 65,536
// characters (capped at 60,000 for the workflow's own lines), shows the blocked event first
// and open, collapses every event, shows contract changes field by field rather than as
// hashes, and says how many events it left out and where the rest is.
func TestPlanMarkdown200Events(t *testing.T) {
	p := &plan.Plan{Env: "prod", Changes: []sink.Change{}, Breaking: []plan.Breaking{}, Drift: []plan.Drift{}, Unmanaged: []plan.Unmanaged{}}
	for i := range 200 {
		p.Changes = append(p.Changes, eventChanges(fmt.Sprintf("shop/event_%03d", i))...)
	}
	p.Changes = append(p.Changes, sink.Change{Event: "zz/late", Kind: "kafka_topic", Name: "prod.zz.late.v1", Action: sink.Blocked,
		Diff: []sink.DiffEntry{}, Reason: "exists but was not created by this repository's evctl state; evctl import adopts it"})
	p.Breaking = append(p.Breaking, plan.Breaking{Event: "shop/event_001", Field: "amount", Rule: "FIELD_SAME_TYPE", Message: `field "amount" changed type from "int64" to "string"`})
	p.Summary = summarize(p.Changes)
	out := showMarkdown(t, p)

	if n := len([]rune(out)); n > 60000 {
		t.Fatalf("the comment is %d characters, over the 60,000 cap", n)
	}
	if opened, closed := strings.Count(out, "<details"), strings.Count(out, "</details>"); opened != closed || opened < 20 {
		t.Fatalf("%d <details> and %d </details>: sections are not collapsed and closed", opened, closed)
	}
	late := strings.Index(out, "<details open><summary><code>zz/late</code>: 1 blocked</summary>")
	first := strings.Index(out, "<summary><code>shop/event_000</code>: 3 create, 2 update</summary>")
	if late < 0 || first < 0 || late > first {
		t.Fatalf("the blocked event is not first and open (at %d, the first event at %d):\n%.3000s", late, first, out)
	}
	for _, want := range []string{
		"**1** blocked", ":no_entry: **This plan cannot be applied as it is**", "FIELD_SAME_TYPE",
		"**~ field** `amount`: `int64 amount = 2` → `string amount = 2`", "**− field** `string coupon = 3`",
		"**+ field** `optional string note = 4`", "**+ field** `string zip = 2` in `address`", "**+ field** `map<string, string> tags = 5`",
		"`configs.retention.ms`: `86400000` → `604800000`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the comment lacks %q", want)
		}
	}
	if strings.Contains(out, strings.Repeat("a", 64)) {
		t.Error("the comment shows a contract change as sha256s")
	}
	m := regexp.MustCompile(`:warning: \*\*(\d+) more events \((\d+) changes\) are not shown\*\*: a comment is capped at 60000 characters\. The whole plan is in the job log`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no truncation line:\n%s", out[len(out)-600:])
	}
	hidden, _ := strconv.Atoi(m[1])
	hiddenChanges, _ := strconv.Atoi(m[2])
	shown := strings.Count(out, "<summary>")
	if shown+hidden != 201 || hiddenChanges != hidden*5 {
		t.Fatalf("%d events shown and %d (%d changes) counted as hidden; want 201 events, 5 changes each", shown, hidden, hiddenChanges)
	}
}

// TestPlanMarkdownSmall: a small plan is shown whole, without a truncation line; a new contract
// says so instead of printing its hash.
func TestPlanMarkdownSmall(t *testing.T) {
	p := &plan.Plan{Env: "staging", Changes: eventChanges("shop/order_placed"), Breaking: []plan.Breaking{}, Drift: []plan.Drift{}, Unmanaged: []plan.Unmanaged{}}
	p.Changes = append(p.Changes, sink.Change{Event: "shop/cart_viewed", Kind: "descriptor", Name: "shop/cart_viewed", Action: sink.Create,
		Diff: []sink.DiffEntry{{Path: "sha256", To: strings.Repeat("c", 64)}}})
	p.Summary = summarize(p.Changes)
	out := showMarkdown(t, p)
	if strings.Contains(out, "not shown") || strings.Count(out, "<details>") != 2 || strings.Contains(out, "cannot be applied") {
		t.Fatalf("small plan:\n%s", out)
	}
	if !strings.Contains(out, "| create | descriptor | `shop/cart_viewed` | new contract |") || strings.Contains(out, strings.Repeat("c", 64)) {
		t.Fatalf("a new contract:\n%s", out)
	}
}
