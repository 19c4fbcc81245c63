package convert

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
)

// UndefinedEnum finds, in a decoded message, an enum value its enum does not define in a field
// that is not open (evoptions.FieldOpenEnum): the check Append makes, for binary payloads. It
// returns the field path and the number, or "".
func UndefinedEnum(m protoreflect.Message) (path string, num int32) { return undefinedEnum(m, "") }

func undefinedEnum(m protoreflect.Message, prefix string) (path string, num int32) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		if prefix != "" {
			name = prefix + "." + name
		}
		closed := fd.Kind() == protoreflect.EnumKind && !evoptions.FieldOpenEnum(fd)
		check := func(v protoreflect.Value, at string) bool {
			if closed && fd.Enum().Values().ByNumber(v.Enum()) == nil {
				path, num = at, int32(v.Enum())
				return false
			}
			if fd.Message() != nil && !fd.IsMap() {
				path, num = undefinedEnum(v.Message(), at)
				return path == ""
			}
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if !check(l.Get(i), fmt.Sprintf("%s[%d]", name, i)) {
					return false
				}
			}
		case fd.IsMap():
			vd := fd.MapValue()
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				at := fmt.Sprintf("%s[%q]", name, k.String())
				switch {
				case vd.Kind() == protoreflect.EnumKind && !evoptions.FieldOpenEnum(fd) && vd.Enum().Values().ByNumber(mv.Enum()) == nil:
					path, num = at, int32(mv.Enum())
				case vd.Message() != nil:
					path, num = undefinedEnum(mv.Message(), at)
				}
				return path == ""
			})
			return path == ""
		default:
			return check(v, name)
		}
		return true
	})
	return path, num
}
