package yamlsrc

import (
	"math"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/contracts/diag"
)

// yaml.v3 decodes `2.9` into an int as 2, and an int64 that a later int32 conversion wraps
// (`partitions: 4294967308` became 12) without a word. Every integer evctl reads from its
// YAML files (partitions, field and enum numbers, majors, ...) is a count or an identifier far
// below 2^31, so each must be written as a whole number within int32.

// checkInt reports a scalar destined for an integer that is not a whole number, or does not fit
// in 32 bits.
func (d *Doc) checkInt(n *yaml.Node, out *diag.List) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return
	}
	switch n.ShortTag() {
	case "!!int":
		v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil || v < math.MinInt32 || v > math.MaxInt32 {
			out.Add(diag.Errorf(d.pos(n), RuleType, "%s is out of range: want a whole number from %d to %d", shortValue(n.Value), math.MinInt32, math.MaxInt32))
		}
	case "!!float":
		out.Add(diag.Errorf(d.pos(n), RuleType, "%s is not a whole number", shortValue(n.Value)))
	}
}

// IntHolder marks a type that decodes itself (yaml.Unmarshaler) and holds integers: the
// "number" of a mapping, or the entries of a list, which Decode checks like any integer.
type IntHolder interface{ YAMLHoldsInts() }

var intHolderType = reflect.TypeOf((*IntHolder)(nil)).Elem()

// checkIntsIn checks the integers of a type that decodes itself (an enum value's number, the
// numbers of a reserved list): the "number" of a mapping, or the numbers of a list.
func (d *Doc) checkIntsIn(n *yaml.Node, out *diag.List) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "number" {
				d.checkInt(n.Content[i+1], out)
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			d.checkInt(c, out)
		}
	}
}

func isIntKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// shortValue quotes at most 32 bytes of a value: an error repeats enough to find it, not all of
// a 4 MB number.
func shortValue(s string) string {
	if len(s) <= 32 {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:32]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}
