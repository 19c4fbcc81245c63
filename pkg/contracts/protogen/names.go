package protogen

import (
	"strings"
	"unicode"
)

// PascalCase turns snake_case into PascalCase: video_played → VideoPlayed.
func PascalCase(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if r == '_' || r == '-' || r == ' ' || r == '.' {
			up = true
			continue
		}
		if up {
			b.WriteRune(unicode.ToUpper(r))
			up = false
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// UpperSnake turns snake_case or PascalCase into UPPER_SNAKE: quality → QUALITY.
func UpperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 && s[i-1] != '_' {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// MessageName is the proto message name of an event.
func MessageName(event string) string { return PascalCase(event) }

// FilePath is the import path of an event's effective contract (and its path under gen/proto).
func FilePath(domain, event string) string { return domain + "/" + event + ".proto" }

// ScalarTypes maps the YAML scalar types to proto types.
var ScalarTypes = map[string]string{
	"string": "string", "bool": "bool",
	"int32": "int32", "int64": "int64", "uint32": "uint32", "uint64": "uint64",
	"float": "float", "double": "double", "bytes": "bytes",
}

// MessageTypes maps the YAML well-known types to proto message types and their import.
var MessageTypes = map[string][2]string{
	"timestamp": {"google.protobuf.Timestamp", "google/protobuf/timestamp.proto"},
	"date":      {"google.type.Date", "google/type/date.proto"},
}

// MapKeyTypes are the YAML types a map key may have (proto's rule: integral or string).
var MapKeyTypes = map[string]bool{
	"string": true, "bool": true, "int32": true, "int64": true, "uint32": true, "uint64": true,
}

// IsType reports whether t is a YAML field type.
func IsType(t string) bool {
	if _, ok := ScalarTypes[t]; ok {
		return true
	}
	if _, ok := MessageTypes[t]; ok {
		return true
	}
	return t == "enum" || t == "record" || t == "map"
}
