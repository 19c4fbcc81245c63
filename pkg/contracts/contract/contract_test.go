package contract_test

import (
	"testing"

	"github.com/evctl/evctl/pkg/contracts/contract"
)

func TestRetentionMillis(t *testing.T) {
	for in, want := range map[string]int64{"7d": 604_800_000, "12h": 43_200_000, "30m": 1_800_000, "45s": 45_000, "1w": 604_800_000, "-1": -1, " 1d ": 86_400_000} {
		if got, err := contract.RetentionMillis(in); err != nil || got != want {
			t.Errorf("RetentionMillis(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "7", "d", "7 days", "0d", "-2d", "1.5h", "7y", "99999999999999999d"} {
		if _, err := contract.RetentionMillis(in); err == nil {
			t.Errorf("RetentionMillis(%q) accepted", in)
		}
	}
}

func TestReserved(t *testing.T) {
	ev, diags := contract.Parse("contracts/feed/e.yaml", []byte("name: e\nschema:\n  reserved: [3, 9-12, old_name, \"7\"]\n"))
	if ev == nil || len(diags) != 0 {
		t.Fatal(diags)
	}
	r := ev.Schema.Reserved
	for n, want := range map[int]bool{3: true, 9: true, 12: true, 13: false, 7: false} {
		if r.HasNumber(n) != want {
			t.Errorf("HasNumber(%d) = %v", n, !want)
		}
	}
	// A quoted "7" is a name, as in proto: only bare numbers are numbers.
	if !r.HasName("old_name") || !r.HasName("7") || r.HasName("3") {
		t.Errorf("names %v", r.Names)
	}
	if ev.Major != 1 {
		t.Errorf("major defaults to 1, got %d", ev.Major)
	}
}

func TestParseWithoutAnEvent(t *testing.T) {
	for name, src := range map[string]string{"empty": "", "comments": "# nothing\n", "list": "- a\n", "scalar": "hello\n", "null": "~\n"} {
		ev, diags := contract.Parse("contracts/feed/e.yaml", []byte(src))
		if ev != nil || len(diags) != 1 || diags[0].Rule != "YAML_TYPE" || diags[0].Line != 1 {
			t.Errorf("%s: event %v, findings %v; want no event and one YAML_TYPE finding", name, ev, diags)
		}
	}
}

func TestFieldPaths(t *testing.T) {
	ev, _ := contract.Parse("contracts/feed/e.yaml", []byte("name: e\nschema:\n  fields:\n    - {name: a, type: string, number: 1}\n    - name: r\n      type: record\n      number: 2\n      fields:\n        - {name: b, type: int64, number: 1}\n"))
	inner := ev.Schema.Fields[1].Fields[0]
	if inner.Path != "schema.fields[1].fields[0]" {
		t.Errorf("path %q", inner.Path)
	}
	if got := ev.Pos(inner.Path + ".number").String(); got != "contracts/feed/e.yaml:9:42" {
		t.Errorf("position %s", got)
	}
	if ev.Schema.Fields[0].EffectiveMode() != contract.ModeNullable || ev.ID() != "/e" {
		t.Errorf("mode %q id %q", ev.Schema.Fields[0].EffectiveMode(), ev.ID())
	}
}
