package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"
)

// TimeLayout is how timestamps appear in the template's data and how now prints: RFC 3339, UTC.
const TimeLayout = time.RFC3339Nano

// funcs is the whole function set; text/template's own builtins (eq, printf, index, len, ...)
// remain, and none of them does I/O.
func funcs(now func() time.Time) map[string]any {
	return map[string]any{
		"json":  jsonFunc,
		"uuid":  func() (string, error) { u, err := uuid.NewV7(); return u.String(), err },
		"now":   func() string { return now().UTC().Format(TimeLayout) },
		"lower": strings.ToLower,
		"upper": strings.ToUpper,
		// default D V: V unless it is empty (nil, "", 0, false, an empty list or map), else D;
		// written `.x | default "none"` like Helm's.
		"default":      defaultFunc,
		"toUnixMillis": toUnixMillis,
	}
}

// jsonFunc encodes v as JSON without HTML escaping (a body is not HTML): int64 prints as a
// number, strings quoted and escaped.
func jsonFunc(v any) (string, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func defaultFunc(def any, given ...any) any {
	if len(given) == 0 || empty(given[0]) {
		return def
	}
	return given[0]
}

func empty(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return r.Len() == 0
	case reflect.Bool:
		return !r.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return r.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return r.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return r.Float() == 0
	case reflect.Pointer, reflect.Interface:
		return r.IsNil()
	}
	return false
}

// toUnixMillis takes a timestamp as the data holds it (an RFC 3339 string) or a time.Time.
func toUnixMillis(v any) (int64, error) {
	switch t := v.(type) {
	case time.Time:
		return t.UnixMilli(), nil
	case string:
		p, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return 0, fmt.Errorf("toUnixMillis: %q is not an RFC 3339 timestamp", t)
		}
		return p.UnixMilli(), nil
	case nil:
		return 0, fmt.Errorf("toUnixMillis: no value (the field is not set)")
	}
	return 0, fmt.Errorf("toUnixMillis: want a timestamp, got %T", v)
}
