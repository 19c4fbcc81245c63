package contract_test

import (
	"testing"

	"github.com/evctl/evctl/pkg/contracts/contract"
)

// FuzzParse: Parse never panics on any bytes; it returns an event or findings (or both), and
// every finding names the file and a line. Seeds: testdata/fuzz/FuzzParse (the bad-input corpus
// of pkg/contracts/lint and the sample catalog).
func FuzzParse(f *testing.F) {
	f.Add([]byte("name: video_played\ndomain: feed\nschema:\n  fields:\n    - {name: a, type: string, number: 1}\n"))
	f.Add([]byte(""))
	f.Add([]byte("name: v\nsinks:\n  clickhouse:\n    order_by: [a]\n    views:\n      - name: d\n        group_by: [a, {day: event_time}]\n        measures: {n: count, u: {uniq: a}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "contracts/feed/video_played.yaml"
		ev, diags := contract.Parse(file, data)
		if ev == nil && len(diags) == 0 {
			t.Fatal("no event and no findings")
		}
		for _, d := range diags {
			if d.File != file || d.Line < 1 || d.Col < 0 || d.Rule == "" || d.Message == "" {
				t.Fatalf("finding without file, line, rule or message: %+v", d)
			}
		}
		if ev == nil {
			return
		}
		// What lint does with a parsed event must not panic either.
		var walk func(fs []contract.Field)
		walk = func(fs []contract.Field) {
			for i := range fs {
				if p := ev.Pos(fs[i].Path + ".number"); p.Line < 1 {
					t.Fatalf("position of %s: %+v", fs[i].Path, p)
				}
				walk(fs[i].Fields)
			}
		}
		walk(ev.Schema.Fields)
		for i := range ev.Examples {
			_, _ = ev.Examples[i].JSON()
		}
		if k := ev.Sinks.Kafka; k != nil {
			_, _ = contract.RetentionMillis(k.Retention)
		}
		if c := ev.Sinks.ClickHouse; c != nil {
			for _, v := range c.Views {
				_ = v.Shadowing()
				for _, m := range v.Measures {
					if p := ev.KeyPos(m.Path); p.Line < 1 {
						t.Fatalf("position of measure %s: %+v", m.Path, p)
					}
				}
			}
		}
	})
}
