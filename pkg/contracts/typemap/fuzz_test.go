package typemap

import (
	"encoding/json"
	"testing"
)

// FuzzParseDeltaSchema: a Delta schemaString read from a live table (another writer's) parses or
// errors, never panics; what parses re-encodes to JSON that parses to the same schema.
func FuzzParseDeltaSchema(f *testing.F) {
	f.Add(`{"type":"struct","fields":[{"name":"a","type":"long","nullable":true,"metadata":{}}]}`)
	f.Add(`{"type":"struct","fields":[{"name":"m","type":{"type":"map","keyType":"string","valueType":{"type":"array","elementType":"decimal(20,0)","containsNull":false},"valueContainsNull":true},"nullable":true,"metadata":{"comment":"x"}}]}`)
	f.Add(`{"type":"struct","fields":[{"name":"s","type":{"type":"struct","fields":[]},"nullable":false,"metadata":{}}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseDeltaSchema(s)
		if err != nil {
			return
		}
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatalf("re-encode %q: %v", s, err)
		}
		if _, err := ParseDeltaSchema(string(b)); err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
	})
}
