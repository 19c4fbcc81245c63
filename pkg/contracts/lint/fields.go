package lint

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/protogen"
)

// Rule IDs of field rules.
const (
	RuleFieldName      = "FIELD_NAME"
	RuleFieldNumber    = "FIELD_NUMBER"
	RuleReservedReused = "RESERVED_REUSED"
	RuleFieldType      = "FIELD_TYPE"
	RuleFieldMode      = "FIELD_MODE"
	RuleEnumValues     = "ENUM_VALUES"
	RuleRecord         = "RECORD_FIELDS"
	RuleMap            = "MAP_TYPES"
	RuleRecordDepth    = "RECORD_DEPTH"
	RuleFieldStage     = "FIELD_STAGE"
)

// MaxRecordDepth bounds nesting of records: deeper schemas are a modelling mistake and break
// warehouse tooling (BigQuery allows 15 levels including the table).
const MaxRecordDepth = 8

var upperSnake = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)

func checkFields(p *config.Project, ev *contract.Event) diag.List {
	var out diag.List
	platform := platformNames(p)
	platformNums := map[int]string{}
	for _, f := range p.PlatformFields {
		platformNums[f.Number] = f.Name
	}
	for i := range ev.Schema.Fields {
		f := &ev.Schema.Fields[i]
		if _, clash := platform[f.Name]; clash {
			out.Add(diag.Errorf(ev.Pos(f.Path+".name"), protogen.RulePlatformClash, "field %q is a platform field evctl injects from evctl.yaml; remove it", f.Name))
		}
		if f.Number >= 1000 && f.Number <= 1099 {
			out.Add(diag.Errorf(ev.Pos(f.Path+".number"), protogen.RulePlatformClash, "field %q uses number %d; 1000-1099 are reserved for platform fields", f.Name, f.Number))
		}
	}
	out.Add(checkLevel(ev, ev.Schema.Fields, ev.Schema.Reserved, "schema", 1)...)
	return out
}

// checkLevel checks the fields of one message (the event, or a record) and recurses.
func checkLevel(ev *contract.Event, fs []contract.Field, reserved contract.Reserved, at string, depth int) diag.List {
	var out diag.List
	names := map[string]bool{}
	nums := map[int]string{}
	enumValues := map[string]string{} // value name → enum field, for C++-style scope clashes
	for i := range fs {
		f := &fs[i]
		pos := func(k string) diag.Pos { return ev.Pos(f.Path + "." + k) }
		switch {
		case f.Name == "":
			out.Add(diag.Errorf(ev.Pos(f.Path), RuleFieldName, "field has no name"))
		case !snake.MatchString(f.Name):
			out.Add(diag.Errorf(pos("name"), RuleFieldName, "field name %q must be snake_case", f.Name))
		case names[f.Name]:
			out.Add(diag.Errorf(pos("name"), RuleFieldName, "field name %q is used twice", f.Name))
		}
		names[f.Name] = true
		switch {
		case !ev.Doc.Has(f.Path + ".number"):
			out.Add(diag.Errorf(ev.Pos(f.Path), RuleFieldNumber, "field %q needs an explicit number (`evctl new` assigns them)", f.Name))
		case f.Number < 1 || f.Number > 536870911:
			out.Add(diag.Errorf(pos("number"), RuleFieldNumber, "field %q: number %d is outside 1..536870911", f.Name, f.Number))
		case f.Number >= 19000 && f.Number <= 19999:
			out.Add(diag.Errorf(pos("number"), RuleFieldNumber, "field %q: numbers 19000-19999 are reserved by protobuf", f.Name))
		case nums[f.Number] != "":
			out.Add(diag.Errorf(pos("number"), RuleFieldNumber, "field %q: number %d is already used by %q", f.Name, f.Number, nums[f.Number]))
		}
		if f.Number > 0 && nums[f.Number] == "" {
			nums[f.Number] = f.Name
		}
		if reserved.HasNumber(f.Number) {
			out.Add(diag.Errorf(pos("number"), RuleReservedReused, "field %q: number %d is reserved (a removed field used it); pick a new number", f.Name, f.Number))
		}
		if reserved.HasName(f.Name) {
			out.Add(diag.Errorf(pos("name"), RuleReservedReused, "field name %q is reserved (a removed field had it); pick a new name", f.Name))
		}
		if f.Stage != "" && !stageOK(f.Stage) {
			out.Add(diag.Errorf(pos("stage"), RuleFieldStage, "field stage %q must be staging or prod", f.Stage))
		} else if f.Stage == contract.StageProd && ev.Stage == contract.StageStaging {
			out.Add(diag.Errorf(pos("stage"), RuleFieldStage, "a staging event cannot have prod fields; promote the event first"))
		}
		out.Add(checkTypeMode(f, pos)...)
		if f.Type == "enum" {
			for j, v := range f.Values {
				if other, ok := enumValues[v.Name]; ok && v.Name != "" {
					out.Add(diag.Errorf(pos(fmt.Sprintf("values[%d]", j)), RuleEnumValues,
						"enum value %s is also a value of %q in the same record; proto enum values share their scope, so rename one", v.Name, other))
				}
				enumValues[v.Name] = f.Name
			}
			enumValues[protogen.UpperSnake(protogen.PascalCase(f.Name))+"_UNSPECIFIED"] = f.Name
		}
		if f.Type == "record" {
			if depth > MaxRecordDepth {
				out.Add(diag.Errorf(ev.Pos(f.Path), RuleRecordDepth, "record %q is nested %d levels deep; records nest at most %d levels", f.Name, depth, MaxRecordDepth))
				continue
			}
			out.Add(checkLevel(ev, f.Fields, f.Reserved, f.Path, depth+1)...)
		}
	}
	for _, it := range reserved.Items {
		if it.Range.From < 0 || it.Range.To < it.Range.From || (it.Name != "" && !snake.MatchString(it.Name)) {
			out.Add(diag.Errorf(ev.Pos(fmt.Sprintf("%s.reserved[%d]", at, it.Index)), RuleReservedReused, "reserved entry %q is not a number, a range (9-12) or a field name", it.Value))
		}
	}
	return out
}

// checkTypeMode checks that a field's type and mode are valid and fit together.
func checkTypeMode(f *contract.Field, pos func(string) diag.Pos) diag.List {
	var out diag.List
	if !protogen.IsType(f.Type) {
		out.Add(diag.Errorf(pos("type"), RuleFieldType, "unknown type %q%s", f.Type, known(typeNames())))
		return out
	}
	mode := f.EffectiveMode()
	switch mode {
	case contract.ModeNullable, contract.ModeRequired, contract.ModeRepeated:
	default:
		out.Add(diag.Errorf(pos("mode"), RuleFieldMode, "mode %q must be nullable, required or repeated", f.Mode))
	}
	if f.Type == "map" && mode != contract.ModeNullable {
		out.Add(diag.Errorf(pos("mode"), RuleFieldMode, "a map cannot be %s (a map is already a collection)", mode))
	}
	if f.Open && f.Type != "enum" {
		out.Add(diag.Errorf(pos("open"), RuleFieldType, "open: true applies to enum fields only (it lets them take numbers their values do not list)"))
	}
	if f.Type == "enum" {
		if len(f.Values) == 0 {
			out.Add(diag.Errorf(pos("type"), RuleEnumValues, "enum %q has no values", f.Name))
		}
		seen := map[string]bool{}
		nums := map[int]bool{}
		for j, v := range f.Values {
			vp := pos(fmt.Sprintf("values[%d]", j))
			n := v.Number
			if n == 0 {
				n = j + 1
			}
			switch {
			case !upperSnake.MatchString(v.Name):
				out.Add(diag.Errorf(vp, RuleEnumValues, "enum value %q must be UPPER_SNAKE_CASE", v.Name))
			case seen[v.Name]:
				out.Add(diag.Errorf(vp, RuleEnumValues, "enum value %q is listed twice", v.Name))
			case nums[n]:
				out.Add(diag.Errorf(vp, RuleEnumValues, "enum value %q: number %d is already used", v.Name, n))
			case n < 1:
				out.Add(diag.Errorf(vp, RuleEnumValues, "enum value %q: numbers start at 1 (0 is the implicit _UNSPECIFIED)", v.Name))
			}
			seen[v.Name], nums[n] = true, true
		}
	} else if len(f.Values) > 0 {
		out.Add(diag.Errorf(pos("values"), RuleEnumValues, "values are only for enum fields"))
	}
	if f.Type == "record" {
		if len(f.Fields) == 0 {
			out.Add(diag.Errorf(pos("type"), RuleRecord, "record %q has no fields", f.Name))
		}
	} else if len(f.Fields) > 0 {
		out.Add(diag.Errorf(pos("fields"), RuleRecord, "fields are only for record fields"))
	}
	if f.Type == "map" {
		if !protogen.MapKeyTypes[f.KeyType] {
			out.Add(diag.Errorf(pos("key_type"), RuleMap, "map key_type %q must be string, bool or an integer type", f.KeyType))
		}
		if _, ok := protogen.ScalarTypes[f.ValueType]; !ok {
			if _, ok := protogen.MessageTypes[f.ValueType]; !ok {
				out.Add(diag.Errorf(pos("value_type"), RuleMap, "map value_type %q must be a scalar, timestamp or date type", f.ValueType))
			}
		}
	} else if f.KeyType != "" || f.ValueType != "" {
		out.Add(diag.Errorf(pos("key_type"), RuleMap, "key_type and value_type are only for map fields"))
	}
	return out
}

func typeNames() []string {
	out := []string{"enum", "record", "map"}
	for t := range protogen.ScalarTypes {
		out = append(out, t)
	}
	for t := range protogen.MessageTypes {
		out = append(out, t)
	}
	return out
}

func sortStrings(s []string) { sort.Strings(s) }
