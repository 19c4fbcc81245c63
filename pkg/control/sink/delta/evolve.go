package delta

import (
	"fmt"
	"slices"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink"
)

// evolution is what it takes to turn a live table into the wanted one.
type evolution struct {
	// schema is the live schema with the wanted additions and relaxations merged in: live
	// columns keep their place and their metadata (column mapping ids, constraints), new
	// columns go at the end of their struct, as ALTER TABLE ADD COLUMNS puts them.
	schema typemap.StructType
	// diff lists every difference, additive or not.
	diff []sink.DiffEntry
	// breaking says why the table cannot be evolved in place; empty when every difference is
	// additive: a new nullable column (top-level or nested), a required column becoming
	// nullable, an array or map starting to allow nulls, a new or changed column comment.
	breaking []string
}

// evolve compares a live table with the wanted one. It is pure.
func evolve(live, want TableSpec) evolution {
	var ev evolution
	ev.schema = ev.mergeStruct(live.Schema, want.Schema, "schema")
	if !slices.Equal(live.PartitionColumns, want.PartitionColumns) {
		ev.diff = append(ev.diff, sink.DiffEntry{Path: "partition_columns", From: strings.Join(live.PartitionColumns, ","), To: strings.Join(want.PartitionColumns, ",")})
		ev.breaking = append(ev.breaking, fmt.Sprintf("partition columns change from [%s] to [%s]", strings.Join(live.PartitionColumns, ", "), strings.Join(want.PartitionColumns, ", ")))
	}
	return ev
}

func (ev *evolution) change(path, from, to string) {
	ev.diff = append(ev.diff, sink.DiffEntry{Path: path, From: from, To: to})
}

func (ev *evolution) breaks(format string, args ...any) {
	ev.breaking = append(ev.breaking, fmt.Sprintf(format, args...))
}

func (ev *evolution) mergeStruct(live, want typemap.StructType, path string) typemap.StructType {
	wantByName := map[string]int{}
	for i, f := range want.Fields {
		wantByName[f.Name] = i
	}
	liveByName := map[string]bool{}
	out := typemap.StructType{Fields: make([]typemap.StructField, 0, max(len(live.Fields), len(want.Fields)))}
	for _, lf := range live.Fields {
		liveByName[lf.Name] = true
		p := path + "." + lf.Name
		i, ok := wantByName[lf.Name]
		if !ok {
			ev.change(p, lf.Type.String(), "")
			if other := caseMatch(want, lf.Name); other != "" {
				ev.breaks("column %s would be renamed to %s (Delta column names are case-insensitive)", strip(p), other)
			} else {
				ev.breaks("column %s is in the table but not in the contract (removed from the contract, or added outside evctl)", strip(p))
			}
			out.Fields = append(out.Fields, lf)
			continue
		}
		out.Fields = append(out.Fields, ev.mergeField(lf, want.Fields[i], p))
	}
	for _, wf := range want.Fields {
		if liveByName[wf.Name] || caseMatch(live, wf.Name) != "" {
			continue
		}
		p := path + "." + wf.Name
		ev.change(p, "", wf.Type.String())
		if !wf.Nullable {
			ev.breaks("new column %s is required, and the rows already in the table have no value for it", strip(p))
		}
		out.Fields = append(out.Fields, wf)
	}
	return out
}

func (ev *evolution) mergeField(lf, wf typemap.StructField, path string) typemap.StructField {
	out := lf
	out.Type = ev.mergeType(lf.Type, wf.Type, path)
	switch {
	case lf.Nullable == wf.Nullable:
	case wf.Nullable: // relaxing NOT NULL is allowed in place
		ev.change(path+".nullable", "false", "true")
		out.Nullable = true
	default:
		ev.change(path+".nullable", "true", "false")
		ev.breaks("column %s would become required, and rows already in the table may hold nulls", strip(path))
	}
	lc, wc := comment(lf), comment(wf)
	if lc != wc {
		ev.change(path+".comment", lc, wc)
		meta := make(map[string]any, len(lf.Metadata)+1)
		for k, v := range lf.Metadata {
			meta[k] = v
		}
		if wc == "" {
			delete(meta, typemap.DeltaCommentKey)
		} else {
			meta[typemap.DeltaCommentKey] = wc
		}
		out.Metadata = meta
	}
	return out
}

func (ev *evolution) mergeType(lt, wt typemap.DataType, path string) typemap.DataType {
	switch {
	case lt.Struct != nil && wt.Struct != nil:
		st := ev.mergeStruct(*lt.Struct, *wt.Struct, path)
		return typemap.DataType{Struct: &st}
	case lt.Array != nil && wt.Array != nil:
		a := *lt.Array
		a.ElementType = ev.mergeType(lt.Array.ElementType, wt.Array.ElementType, path+".element")
		if wt.Array.ContainsNull && !a.ContainsNull {
			ev.change(path+".containsNull", "false", "true")
			a.ContainsNull = true
		}
		return typemap.DataType{Array: &a}
	case lt.Map != nil && wt.Map != nil:
		m := *lt.Map
		if lt.Map.KeyType.String() != wt.Map.KeyType.String() {
			ev.change(path+".key", lt.Map.KeyType.String(), wt.Map.KeyType.String())
			ev.breaks("map %s key type changes from %s to %s", strip(path), lt.Map.KeyType, wt.Map.KeyType)
		}
		m.ValueType = ev.mergeType(lt.Map.ValueType, wt.Map.ValueType, path+".value")
		if wt.Map.ValueContainsNull && !m.ValueContainsNull {
			ev.change(path+".valueContainsNull", "false", "true")
			m.ValueContainsNull = true
		}
		return typemap.DataType{Map: &m}
	case lt.Primitive != "" && lt.Primitive == wt.Primitive:
		return lt
	}
	ev.change(path, lt.String(), wt.String())
	ev.breaks("column %s changes type from %s to %s", strip(path), short(lt), short(wt))
	return lt
}

// comment is a column's description (metadata "comment"), "" when absent.
func comment(f typemap.StructField) string {
	if s, ok := f.Metadata[typemap.DeltaCommentKey].(string); ok {
		return s
	}
	return ""
}

// caseMatch returns the name of a field of st equal to name ignoring case but not exactly.
func caseMatch(st typemap.StructType, name string) string {
	for _, f := range st.Fields {
		if f.Name != name && strings.EqualFold(f.Name, name) {
			return f.Name
		}
	}
	return ""
}

// strip drops the "schema." prefix of a diff path for messages.
func strip(path string) string { return strings.TrimPrefix(path, "schema.") }

// short names a type for messages: primitives by name, complex types by kind.
func short(t typemap.DataType) string {
	switch {
	case t.Struct != nil:
		return "struct"
	case t.Array != nil:
		return "array<" + short(t.Array.ElementType) + ">"
	case t.Map != nil:
		return "map<" + short(t.Map.KeyType) + "," + short(t.Map.ValueType) + ">"
	}
	return t.Primitive
}
