package cli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/evctl/evctl/pkg/contracts/schema"
)

// TestSchemaCmd prints each schema through the CLI; each is what pkg/contracts/schema
// generates and compiles as a draft 2020-12 schema. An unknown kind exits 1 naming the kinds.
func TestSchemaCmd(t *testing.T) {
	dir := t.TempDir()
	for _, k := range schema.Kinds {
		for _, o := range []string{"text", "json"} {
			code, out, errOut := brkRun(t, dir, nil, "schema", k, "-o", o)
			if code != 0 {
				t.Fatalf("schema %s: exit %d: %s", k, code, errOut)
			}
			want, err := schema.For(k)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("schema %s -o %s: output differs from schema.For", k, o)
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(out)))
			if err != nil {
				t.Fatalf("schema %s: %v", k, err)
			}
			c := jsonschema.NewCompiler()
			if err := c.AddResource(k+".json", doc); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Compile(k + ".json"); err != nil {
				t.Errorf("schema %s does not compile: %v", k, err)
			}
		}
	}
	code, _, errOut := brkRun(t, dir, nil, "schema", "evctl.yml")
	if code != 1 || !strings.Contains(errOut, "evctl-yaml, event, consumer") {
		t.Errorf("unknown kind: exit %d: %s", code, errOut)
	}
	if code, _, _ := brkRun(t, dir, nil, "schema"); code == 0 {
		t.Error("schema without a kind succeeded")
	}
}
