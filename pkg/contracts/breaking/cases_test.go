package breaking

import (
	"slices"
	"strings"
	"testing"
)

// The baseline event's fields, by index.
var baseFields = []string{
	`{name: a, type: string, number: 1}`,
	`{name: b, type: int64, number: 2}`,
	`{name: q, type: enum, values: [X, Y, Z], number: 3}`,
	`{name: tags, type: string, mode: repeated, number: 4}`,
	`{name: dev, type: record, number: 5, fields: [{name: model, type: string, number: 1}, {name: os, type: string, number: 2}]}`,
	`{name: attrs, type: map, key_type: string, value_type: string, number: 6}`,
	`{name: exp, type: string, number: 7, stage: staging}`,
}

func with(i int, f string) []string { s := slices.Clone(baseFields); s[i] = f; return s }
func without(i int) []string        { return slices.Delete(slices.Clone(baseFields), i, i+1) }
func plus(f ...string) []string     { return append(slices.Clone(baseFields), f...) }

func prodEv(fields []string, more string) map[string]string {
	return map[string]string{"contracts/d/e.yaml": ev("prod", 1, fields, more)}
}

func rawRepo(stage, proto string, extra ...string) map[string]string {
	m := map[string]string{"contracts/d/e.yaml": rawEv(stage), "contracts/d/e.proto": proto}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

const rawBase = `syntax = "proto3";
package acme.d.v1;

// M is the event.
message M {
  string a = 1;
  int64 b = 2;
  Item item = 3;
}

message Item {
  string sku = 1;
}
`

func rawEdit(old, new string) string { return strings.Replace(rawBase, old, new, 1) }

const waiverOK = "waivers:\n  - {rule: FIELD_WIRE_JSON_COMPATIBLE_TYPE, field: b, reason: no consumer yet, approved_by: '@acme/data', expires: 2099-12-31}\n"
const waiverExpired = "waivers:\n  - {rule: FIELD_WIRE_JSON_COMPATIBLE_TYPE, field: b, reason: no consumer yet, approved_by: '@acme/data', expires: 2026-01-01}\n"
const waiverOther = "waivers:\n  - {rule: FIELD_WIRE_JSON_COMPATIBLE_TYPE, field: a, reason: wrong field, approved_by: '@acme/data', expires: 2099-12-31}\n"

const (
	tyChange   = "FIELD_WIRE_JSON_COMPATIBLE_TYPE"
	cardChange = "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY"
	delName    = "FIELD_NO_DELETE_UNLESS_NAME_RESERVED"
	delNum     = "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED"
	enumName   = "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED"
	enumNum    = "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED"
	enumSame   = "ENUM_VALUE_SAME_NAME"
	sameName   = "FIELD_SAME_NAME"
	sameJSON   = "FIELD_SAME_JSON_NAME"
)

type breakCase struct {
	name     string
	old, cur map[string]string
	want     []string // failing rule IDs, sorted
	waived   []string
	warnings []string
	field    string // when set, the field of every failing finding
	file     string // when set, the file of every failing finding
	hint     string // when set, a substring of every failing finding's hint
}

func breakCases() []breakCase {
	prod := func(f []string) map[string]string { return prodEv(f, "") }
	return []breakCase{
		{name: "unchanged", old: prod(baseFields), cur: prod(baseFields)},
		{name: "description only", old: prod(baseFields), cur: prod(with(0, `{name: a, type: string, number: 1, description: "now documented"}`))},
		{name: "sink only", old: prod(baseFields), cur: prodEv(baseFields, "sinks:\n  kafka: {partitions: 3}\n")},
		{name: "type int64 to string", old: prod(baseFields), cur: prod(with(1, `{name: b, type: string, number: 2}`)), want: []string{tyChange}, field: "b", file: "contracts/d/e.yaml"},
		{name: "type int64 to int32", old: prod(baseFields), cur: prod(with(1, `{name: b, type: int32, number: 2}`)), want: []string{tyChange}, field: "b"},
		{name: "type string to bytes", old: prod(baseFields), cur: prod(with(0, `{name: a, type: bytes, number: 1}`)), want: []string{tyChange}, field: "a"},
		{name: "type string to timestamp", old: prod(baseFields), cur: prod(with(0, `{name: a, type: timestamp, number: 1}`)), want: []string{tyChange}, field: "a"},
		{name: "removed without reserving", old: prod(baseFields), cur: prod(without(1)), want: []string{delName, delNum}, field: "b", hint: "add 2 and b to schema.reserved"},
		{name: "removed and reserved", old: prod(baseFields), cur: prodEv(without(1), "  reserved: [2, b]\n")},
		{name: "removed, number reserved only", old: prod(baseFields), cur: prodEv(without(1), "  reserved: [2]\n"), want: []string{delName}, field: "b"},
		{name: "number reused", old: prod(baseFields), cur: prod(with(1, `{name: c, type: string, number: 2}`)), want: []string{tyChange, sameJSON, sameName}},
		{name: "renamed field", old: prod(baseFields), cur: prod(with(1, `{name: bb, type: int64, number: 2}`)), want: []string{sameJSON, sameName}, field: "bb"},
		{name: "enum value removed at end", old: prod(baseFields), cur: prod(with(2, `{name: q, type: enum, values: [X, Y], number: 3}`)), want: []string{enumName, enumNum}, field: "q"},
		{name: "enum value removed in middle renumbers", old: prod(baseFields), cur: prod(with(2, `{name: q, type: enum, values: [X, Z], number: 3}`)), want: []string{enumName, enumNum, enumSame}, field: "q"},
		{name: "enum value removed keeping numbers", old: prod(baseFields), cur: prod(with(2, `{name: q, type: enum, values: [X, {name: Z, number: 3}], number: 3}`)), want: []string{enumName, enumNum}},
		{name: "enum values reordered", old: prod(baseFields), cur: prod(with(2, `{name: q, type: enum, values: [Y, X, Z], number: 3}`)), want: []string{enumSame}},
		{name: "enum value added", old: prod(baseFields), cur: prod(with(2, `{name: q, type: enum, values: [X, Y, Z, W], number: 3}`))},
		{name: "nullable to required", old: prod(baseFields), cur: prod(with(0, `{name: a, type: string, mode: required, number: 1}`)), want: []string{RuleRequiredAdded}, field: "a"},
		{name: "required to nullable", old: prod(with(0, `{name: a, type: string, mode: required, number: 1}`)), cur: prod(baseFields)},
		{name: "required field added", old: prod(baseFields), cur: prod(plus(`{name: n, type: string, mode: required, number: 8}`)), want: []string{RuleRequiredAdded}, field: "n"},
		{name: "nullable field added", old: prod(baseFields), cur: prod(plus(`{name: n, type: string, number: 8}`))},
		{name: "repeated to singular", old: prod(baseFields), cur: prod(with(3, `{name: tags, type: string, number: 4}`)), want: []string{cardChange}, field: "tags"},
		{name: "singular to repeated", old: prod(baseFields), cur: prod(with(0, `{name: a, type: string, mode: repeated, number: 1}`)), want: []string{cardChange}, field: "a"},
		{name: "map value type", old: prod(baseFields), cur: prod(with(5, `{name: attrs, type: map, key_type: string, value_type: int64, number: 6}`)), want: []string{tyChange}, field: "attrs", file: "contracts/d/e.yaml"},
		{name: "map key type", old: prod(baseFields), cur: prod(with(5, `{name: attrs, type: map, key_type: int64, value_type: string, number: 6}`)), want: []string{tyChange}, field: "attrs"},
		{name: "map to string", old: prod(baseFields), cur: prod(with(5, `{name: attrs, type: string, number: 6}`)), want: []string{cardChange, tyChange}},
		{name: "record field type", old: prod(baseFields), cur: prod(with(4, `{name: dev, type: record, number: 5, fields: [{name: model, type: int32, number: 1}, {name: os, type: string, number: 2}]}`)), want: []string{tyChange}, field: "dev.model"},
		{name: "record field removed", old: prod(baseFields), cur: prod(with(4, `{name: dev, type: record, number: 5, fields: [{name: model, type: string, number: 1}]}`)), want: []string{delName, delNum}, field: "dev.os", hint: "add 2 and os to the reserved list of record dev"},
		{name: "record field added", old: prod(baseFields), cur: prod(with(4, `{name: dev, type: record, number: 5, fields: [{name: model, type: string, number: 1}, {name: os, type: string, number: 2}, {name: ram, type: int32, number: 3}]}`))},
		{name: "record to string", old: prod(baseFields), cur: prod(with(4, `{name: dev, type: string, number: 5}`)), want: []string{tyChange}, field: "dev"},
		{name: "required added inside record", old: prod(baseFields), cur: prod(with(4, `{name: dev, type: record, number: 5, fields: [{name: model, type: string, number: 1}, {name: os, type: string, number: 2}, {name: id, type: string, mode: required, number: 3}]}`)), want: []string{RuleRequiredAdded}, field: "dev.id"},
		{name: "staging field type change", old: prod(baseFields), cur: prod(with(6, `{name: exp, type: int64, number: 7, stage: staging}`))},
		{name: "staging field removed", old: prod(baseFields), cur: prod(without(6))},
		{name: "staging field renamed", old: prod(baseFields), cur: prod(with(6, `{name: exp2, type: string, number: 7, stage: staging}`))},
		{name: "staging field promoted", old: prod(baseFields), cur: prod(with(6, `{name: exp, type: string, number: 7, stage: prod}`))},
		{name: "staging record edits", old: prod(with(4, `{name: dev, type: record, number: 5, stage: staging, fields: [{name: model, type: string, number: 1}]}`)), cur: prod(with(4, `{name: dev, type: record, number: 5, stage: staging, fields: [{name: model, type: int64, number: 1}]}`))},
		{name: "prod field to staging", old: prod(baseFields), cur: prod(with(1, `{name: b, type: int64, number: 2, stage: staging}`)), want: []string{RuleStageDemoted}, field: "b"},
		{name: "prod event to staging", old: prod(baseFields), cur: map[string]string{"contracts/d/e.yaml": ev("staging", 1, baseFields, "")}, want: []string{RuleStageDemoted}},
		{name: "major bump", old: prod(baseFields), cur: map[string]string{"contracts/d/e.yaml": ev("prod", 2, without(1), "")}},
		{name: "new event", old: map[string]string{}, cur: prod(baseFields)},
		{name: "staging event", old: map[string]string{"contracts/d/e.yaml": ev("staging", 1, baseFields, "")}, cur: map[string]string{"contracts/d/e.yaml": ev("staging", 1, without(1), "")}},
		{name: "staging event promoted", old: map[string]string{"contracts/d/e.yaml": ev("staging", 1, baseFields, "")}, cur: prod(without(1))},
		{name: "platform field type", old: prod(baseFields),
			cur:  withProject(prod(baseFields), projectYAML(strings.Replace(defaultPlatform, "{name: app, type: string", "{name: app, type: int64", 1), "")),
			want: []string{tyChange}, field: "app", file: "evctl.yaml"},
		{name: "platform field removed", old: prod(baseFields),
			cur:  withProject(prod(baseFields), projectYAML(strings.Replace(defaultPlatform, "  - {name: app, type: string, number: 1003}\n", "", 1), "")),
			want: []string{delName, delNum}, field: "app", file: "evctl.yaml"},
		{name: "platform field made required", old: prod(baseFields),
			cur:  withProject(prod(baseFields), projectYAML(strings.Replace(defaultPlatform, "{name: app, type: string,", "{name: app, type: string, mode: required,", 1), "")),
			want: []string{RuleRequiredAdded}, field: "app", file: "evctl.yaml"},
		{name: "waiver", old: prod(baseFields), cur: prodEv(with(1, `{name: b, type: string, number: 2}`), waiverOK), waived: []string{tyChange}},
		{name: "expired waiver", old: prod(baseFields), cur: prodEv(with(1, `{name: b, type: string, number: 2}`), waiverExpired), want: []string{tyChange}},
		{name: "waiver for another field", old: prod(baseFields), cur: prodEv(with(1, `{name: b, type: string, number: 2}`), waiverOther), want: []string{tyChange}, warnings: []string{RuleWaiverUnused}},
		{name: "breaking except", old: prod(baseFields),
			cur:  withProject(prod(with(1, `{name: bb, type: int64, number: 2}`)), projectYAML("", "breaking: {use: [WIRE_JSON], except: [FIELD_SAME_NAME]}\n")),
			want: []string{sameJSON}},
		{name: "breaking category WIRE", old: prod(baseFields),
			cur: withProject(prod(with(1, `{name: bb, type: int64, number: 2}`)), projectYAML("", "breaking: {use: [WIRE]}\n"))},
		{name: "raw type change", old: rawRepo("prod", rawBase), cur: rawRepo("prod", rawEdit("int64 b = 2;", "string b = 2;")), want: []string{tyChange}, field: "b", file: "contracts/d/e.proto"},
		{name: "raw comment only", old: rawRepo("prod", rawBase), cur: rawRepo("prod", rawEdit("// M is the event.", "// M is the event, documented better."))},
		{name: "raw removed and reserved", old: rawRepo("prod", rawBase), cur: rawRepo("prod", rawEdit("int64 b = 2;", `reserved 2; reserved "b";`))},
		{name: "raw removed without reserving", old: rawRepo("prod", rawBase), cur: rawRepo("prod", rawEdit("  int64 b = 2;\n", "")), want: []string{delName, delNum}, field: "b", file: "contracts/d/e.proto", hint: `reserved 2; reserved "b";`},
		{name: "raw package change", old: rawRepo("prod", rawBase), cur: rawRepo("prod", rawEdit("acme.d.v1", "acme.d.v2")), want: []string{RuleMessageRenamed}, file: "contracts/d/e.proto"},
		{name: "raw package change hides nothing", old: rawRepo("prod", rawBase), cur: rawRepo("prod", strings.Replace(rawEdit("acme.d.v1", "acme.d.v2"), "int64 b = 2;", "string b = 2;", 1)), want: []string{tyChange, RuleMessageRenamed}},
		{name: "raw nested message field type", old: rawRepo("prod", rawBase), cur: rawRepo("prod", rawEdit("string sku = 1;", "int32 sku = 1;")), want: []string{tyChange}, field: "item.sku"},
		{name: "raw json_name", old: rawRepo("prod", rawBase), cur: rawRepo("prod", rawEdit("string a = 1;", `string a = 1 [json_name = "A"];`)), want: []string{sameJSON}, field: "a"},
		{name: "raw oneof", old: rawRepo("prod", rawBase), cur: rawRepo("prod", rawEdit("string a = 1;", "oneof k { string a = 1; }")), want: []string{"FIELD_SAME_ONEOF"}, field: "a"},
		{name: "raw staging event", old: rawRepo("staging", rawBase), cur: rawRepo("staging", rawEdit("int64 b = 2;", "string b = 2;"))},
		{name: "raw shared import change",
			old:  rawRepo("prod", sharedRaw, "contracts/common/money.proto", sharedBase),
			cur:  rawRepo("prod", sharedRaw, "contracts/common/money.proto", strings.Replace(sharedBase, "int64 units", "string units", 1)),
			want: []string{tyChange}, field: "price.units", file: "contracts/common/money.proto"},
	}
}

const sharedRaw = `syntax = "proto3";
package acme.d.v1;
import "common/money.proto";
message M {
  string a = 1;
  acme.common.Money price = 2;
}
`

const sharedBase = `syntax = "proto3";
package acme.common;
message Money {
  int64 units = 1;
}
`

func withProject(files map[string]string, project string) map[string]string {
	files["evctl.yaml"] = project
	return files
}

func TestBreakingCases(t *testing.T) {
	bufBin(t)
	cases := breakCases()
	if len(cases) < 40 {
		t.Fatalf("%d cases; the issue asks for at least 40", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := checkRepos(t, tc.old, tc.cur)
			failing, waived, warnings := verdict(rep)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(failing, want) || !slices.Equal(waived, tc.waived) || !slices.Equal(warnings, tc.warnings) {
				t.Fatalf("failing %v waived %v warnings %v; want %v, %v, %v\n%s", failing, waived, warnings, want, tc.waived, tc.warnings, dump(rep))
			}
			if rep.Failed() != (len(want) > 0) {
				t.Errorf("Failed() = %v with failing %v", rep.Failed(), failing)
			}
			for _, f := range rep.Findings() {
				if !f.Failing() {
					continue
				}
				if tc.field != "" && f.Field != tc.field && f.Rule != RuleMessageRenamed {
					t.Errorf("%s: field %q, want %q\n%s", f.Rule, f.Field, tc.field, dump(rep))
				}
				if tc.file != "" && f.File != tc.file {
					t.Errorf("%s: file %q, want %q\n%s", f.Rule, f.File, tc.file, dump(rep))
				}
				if tc.hint != "" && !strings.Contains(f.Hint, tc.hint) {
					t.Errorf("%s: hint %q, want %q", f.Rule, f.Hint, tc.hint)
				}
				if f.Line < 1 || f.Hint == "" || f.Message == "" || f.Event != "d/e" {
					t.Errorf("incomplete finding %+v", f)
				}
			}
		})
	}
}
