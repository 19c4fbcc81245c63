package breaking

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// crmConsumer uses b in its where filter and a, dev.model and tags in its template; line 7 of
// the file is the template's first line.
const crmConsumer = `name: crm_nudges
owner: {team: t}
events: [d/e]
where: {b: "2"}
transform: |
  {"x": 1,
   "a": {{json .a}}, "model": {{json .dev.model}},
   "tags": [{{range $i, $t := .tags}}{{if $i}},{{end}}{{json $t}}{{end}}], "exp": {{json .exp}}}
deliver:
  kafka: {topic: crm}
`

func withConsumer(files map[string]string, body string) map[string]string {
	out := maps.Clone(files)
	out["consumers/crm_nudges.yaml"] = body
	return out
}

// TestConsumerFieldUsed: a prod change (a removal with its number and name reserved, which buf
// lets through, or a retype) that removes or retypes a field a consumer's template
// or where uses is EVCTL_CONSUMER_FIELD_USED, naming the consumer and where it uses the field
// (file:line:column); the same change with no consumer using the field is only buf's finding;
// a staging field (exp) and fields nobody uses change without it; a consumer changed in the
// same pull request to stop using the field clears it; a waiver for the rule waives it.
func TestConsumerFieldUsed(t *testing.T) {
	bufBin(t)
	base := withConsumer(prodEv(baseFields, ""), crmConsumer)
	for _, tc := range []struct {
		name     string
		cur      map[string]string
		field    string
		at       string // position in the message
		contains string
		none     bool
	}{
		{name: "template field removed", cur: withConsumer(prodEv(without(0), "  reserved: [1, a]\n"), crmConsumer),
			field: "a", at: "consumers/crm_nudges.yaml:7:16", contains: "removes it"},
		{name: "nested template field retyped", cur: withConsumer(prodEv(with(4, `{name: dev, type: record, number: 5, fields: [{name: model, type: int64, number: 1}, {name: os, type: string, number: 2}]}`), ""), crmConsumer),
			field: "dev.model", at: "consumers/crm_nudges.yaml:7:42", contains: "from string to int64"},
		{name: "where field retyped", cur: withConsumer(prodEv(with(1, `{name: b, type: string, number: 2}`), ""), crmConsumer),
			field: "b", at: "consumers/crm_nudges.yaml:4:12", contains: "from int64 to string"},
		{name: "list became scalar", cur: withConsumer(prodEv(with(3, `{name: tags, type: string, number: 4}`), ""), crmConsumer),
			field: "tags", at: "consumers/crm_nudges.yaml:8:", contains: "from repeated string to string"},
		{name: "unused field removed", cur: withConsumer(prodEv(without(5), "  reserved: [6, attrs]\n"), crmConsumer), none: true},
		{name: "staging field removed", cur: withConsumer(prodEv(without(6), "  reserved: [7, exp]\n"), strings.Replace(crmConsumer, `, "exp": {{json .exp}}`, "", 1)), none: true},
		{name: "consumer updated in the same change", cur: withConsumer(prodEv(without(0), "  reserved: [1, a]\n"), strings.Replace(crmConsumer, `"a": {{json .a}}, `, "", 1)), none: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := checkRepos(t, base, tc.cur)
			var got []Finding
			for _, f := range rep.Findings() {
				if f.Rule == RuleConsumerFieldUsed {
					got = append(got, f)
				}
			}
			if tc.none {
				if len(got) != 0 {
					t.Fatalf("want no %s finding:\n%s", RuleConsumerFieldUsed, dump(rep))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("want one %s finding:\n%s", RuleConsumerFieldUsed, dump(rep))
			}
			f := got[0]
			want := "consumer crm_nudges uses field " + tc.field + " (" + tc.at
			if f.Field != tc.field || !strings.Contains(f.Message, want) || !strings.Contains(f.Message, tc.contains) || !f.Failing() ||
				f.File != "contracts/d/e.yaml" || f.Line < 1 || f.Hint == "" || !rep.Failed() {
				t.Fatalf("finding %+v\nwant field %q, message with %q and %q, in contracts/d/e.yaml", f, tc.field, want, tc.contains)
			}
		})
	}
	t.Run("no consumer", func(t *testing.T) {
		t.Parallel()
		rep := checkRepos(t, prodEv(baseFields, ""), prodEv(with(1, `{name: b, type: string, number: 2}`), ""))
		failing, _, _ := verdict(rep)
		if slices.Contains(failing, RuleConsumerFieldUsed) || len(failing) == 0 {
			t.Fatalf("failing %v: want buf's finding only\n%s", failing, dump(rep))
		}
	})
	t.Run("waived", func(t *testing.T) {
		t.Parallel()
		waiver := "waivers:\n  - {rule: " + RuleConsumerFieldUsed + ", field: b, reason: crm reads it as text, approved_by: '@acme/data', expires: 2099-12-31}\n" +
			"  - {rule: " + tyChange + ", field: b, reason: crm reads it as text, approved_by: '@acme/data', expires: 2099-12-31}\n"
		rep := checkRepos(t, base, withConsumer(prodEv(with(1, `{name: b, type: string, number: 2}`), waiver), crmConsumer))
		failing, waived, _ := verdict(rep)
		if len(failing) != 0 || !slices.Contains(waived, RuleConsumerFieldUsed) {
			t.Fatalf("failing %v waived %v\n%s", failing, waived, dump(rep))
		}
	})
}
