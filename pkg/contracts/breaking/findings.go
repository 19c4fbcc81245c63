package breaking

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
)

// fieldNumRE finds the field a message-level finding is about: `field "2" with name "x"`.
var fieldNumRE = regexp.MustCompile(`[Ff]ield "(\d+)"`)

// mapFinding turns one buf finding into an evctl finding: which field it touches (through the
// current file's source info, or the field number buf names), where the user fixes it, and
// whether every field it touches was staging in the baseline (then it is dropped: keep=false).
func mapFinding(p *config.Project, pr *pair, bf bufFinding) (Finding, bool) {
	var (
		touched  []protoreflect.FieldDescriptor // baseline fields the finding is about
		field    string                         // dotted path for the report
		curField protoreflect.FieldDescriptor   // the field in the current contract, if it still exists
	)
	switch d := pr.ct.locate(bf.Path, bf.StartLine, bf.StartColumn).(type) {
	case protoreflect.FieldDescriptor:
		curField, field = d, pr.ct.fieldPath(d)
		if b := pr.bt.field(d.ContainingMessage().FullName(), d.Number()); b != nil {
			touched = append(touched, b)
		}
	case protoreflect.MessageDescriptor:
		if m := fieldNumRE.FindStringSubmatch(bf.Message); m != nil {
			n, _ := strconv.Atoi(m[1])
			if b := pr.bt.field(d.FullName(), protoreflect.FieldNumber(n)); b != nil {
				touched = append(touched, b)
				field = pr.bt.fieldPath(b)
			}
			if c := d.Fields().ByNumber(protoreflect.FieldNumber(n)); c != nil {
				curField, field = c, pr.ct.fieldPath(c)
			}
		}
		if field == "" {
			field = pr.ct.containerPath(d)
		}
	case protoreflect.EnumValueDescriptor:
		touched, field, curField = enumFields(pr, d.Parent().(protoreflect.EnumDescriptor))
	case protoreflect.EnumDescriptor:
		touched, field, curField = enumFields(pr, d)
	}
	if len(touched) > 0 {
		allStaging := true
		for _, b := range touched {
			if pr.bt.fieldStage(b) != contract.StageStaging {
				allStaging = false
			}
		}
		if allStaging {
			return Finding{}, false
		}
	}
	pos := findingPos(p, pr, bf, field, curField)
	if curField == nil && len(touched) == 1 && evoptions.FieldPlatform(touched[0]) && bf.Path == pr.c.file.Path() {
		pos = p.Pos("platform_fields") // a platform field removed from evctl.yaml
	}
	f := newFinding(pr.ev.ID(), field, bf.Type, pos, cleanMessage(bf.Message))
	if strings.HasPrefix(bf.Type, "FIELD_NO_DELETE") && len(touched) == 1 {
		f.Hint = reserveHint(pr, touched[0])
	}
	return f, true
}

// reserveHint says exactly what to write to retire a removed field.
func reserveHint(pr *pair, b protoreflect.FieldDescriptor) string {
	if pr.c.out.RawFile != "" || evoptions.FieldPlatform(b) {
		return fmt.Sprintf("reserve it in message %s: reserved %d; reserved %q; (or restore the field)", b.ContainingMessage().Name(), b.Number(), b.Name())
	}
	where := "schema.reserved"
	if c := pr.bt.containerPath(b.ContainingMessage()); c != "" {
		where = "the reserved list of record " + c
	}
	return fmt.Sprintf("reserve it: add %d and %s to %s (or restore the field)", b.Number(), b.Name(), where)
}

// enumFields are the baseline fields of an enum's type, and the first current one for position.
func enumFields(pr *pair, e protoreflect.EnumDescriptor) ([]protoreflect.FieldDescriptor, string, protoreflect.FieldDescriptor) {
	touched := pr.bt.holders[e.FullName()]
	if hs := pr.ct.holders[e.FullName()]; len(hs) > 0 {
		return touched, pr.ct.fieldPath(hs[0]), hs[0]
	}
	if len(touched) > 0 {
		return touched, pr.bt.fieldPath(touched[0]), nil
	}
	return nil, "", nil
}

// cleanMessage drops buf's links to the protobuf docs; the hint says what to do instead.
func cleanMessage(s string) string {
	if i := strings.Index(s, " See https://"); i >= 0 {
		s = s[:i]
	}
	return s
}

// findingPos is where the user fixes a finding: the field's line in the contract YAML (form
// path), the raw .proto line (upload path), the platform field in evctl.yaml, or the shared
// .proto a raw contract imports.
func findingPos(p *config.Project, pr *pair, bf bufFinding, field string, cur protoreflect.FieldDescriptor) diag.Pos {
	if bf.Path != pr.c.file.Path() {
		return diag.Pos{File: path.Join(contract.Dir, bf.Path), Line: bf.StartLine, Col: bf.StartColumn}
	}
	if cur != nil && evoptions.FieldPlatform(cur) {
		if pos, ok := platformPos(p, string(cur.Name())); ok {
			return pos
		}
	}
	if pr.c.out.RawFile != "" {
		return rawPos(pr.c, bf.StartLine, bf.StartColumn)
	}
	return fieldPos(pr.ev, field)
}

// fieldPos finds a dotted field path in the YAML; a field that is gone points at the list it
// was removed from.
func fieldPos(ev *contract.Event, field string) diag.Pos {
	if field == "" {
		return ev.Pos("schema")
	}
	if f := findField(ev.Schema.Fields, field); f != nil {
		return ev.Pos(f.Path)
	}
	parent, _, ok := cutLast(field, ".")
	if !ok {
		return ev.Pos("schema.fields")
	}
	if f := findField(ev.Schema.Fields, parent); f != nil {
		return ev.Pos(f.Path + ".fields")
	}
	return ev.Pos("schema.fields")
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// findField walks a dotted path of field names through records.
func findField(fs []contract.Field, dotted string) *contract.Field {
	head, rest, more := strings.Cut(dotted, ".")
	for i := range fs {
		if fs[i].Name != head {
			continue
		}
		if !more {
			return &fs[i]
		}
		return findField(fs[i].Fields, rest)
	}
	return nil
}

func platformPos(p *config.Project, name string) (diag.Pos, bool) {
	for i := range p.PlatformFields {
		if p.PlatformFields[i].Name == name {
			return p.Pos(p.PlatformFields[i].Path), true
		}
	}
	return diag.Pos{}, false
}

// rawPos maps a line of the effective contract to the raw .proto; injected lines map to line 1.
func rawPos(c *event, line, col int) diag.Pos {
	if line > 0 && line < len(c.out.RawLine) && c.out.RawLine[line] > 0 {
		return diag.Pos{File: c.out.RawFile, Line: c.out.RawLine[line], Col: col}
	}
	return diag.Pos{File: c.out.RawFile, Line: 1, Col: 1}
}
