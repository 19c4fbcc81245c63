package yamlsrc_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/yamlsrc"
)

type Inner struct {
	Name   string `yaml:"name"`
	Number int    `yaml:"number"`
}

type doc struct {
	Name   string            `yaml:"name"`
	Stage  string            `yaml:"stage"`
	Count  int               `yaml:"count"`
	Items  []Inner           `yaml:"items"`
	Labels map[string]string `yaml:"labels"`
}

func one(t *testing.T, ds diag.List) diag.Diagnostic {
	t.Helper()
	if len(ds) != 1 {
		t.Fatalf("want one finding, got %d: %v", len(ds), ds)
	}
	return ds[0]
}

func at(d diag.Diagnostic) string { return fmt.Sprintf("%d:%d %s", d.Line, d.Col, d.Rule) }

func TestSyntaxPositions(t *testing.T) {
	for _, tc := range []struct{ src, want, msg string }{
		{"name: a\nitems: [{name: x, number: 1}\nstage: prod\n", "2:8 YAML_SYNTAX", "not closed"},
		{"name: a\nlabels: {a: b\n", "2:9 YAML_SYNTAX", "not closed"},
		{"name: a\nitems:\n\t- {name: x}\n", "3:1 YAML_SYNTAX", "tab"},
		{"name: a\nstage: prod\n  count: 3\n", "3:3 YAML_SYNTAX", "indentation"},
		{"name: a\n- b\n", "2:1 YAML_SYNTAX", "expected a key"},
		{"name: 'abc\n", "2:1 YAML_SYNTAX", "end of stream"},
		{"name: a\nstage: @x\n", "2:1 YAML_SYNTAX", "cannot start any token"},
	} {
		doc, ds := yamlsrc.Parse("f.yaml", []byte(tc.src))
		if doc != nil {
			t.Errorf("%q: a document despite a syntax error", tc.src)
		}
		d := one(t, ds)
		if at(d) != tc.want || !strings.Contains(d.Message, tc.msg) || d.File != "f.yaml" {
			t.Errorf("%q: got %s %q, want %s containing %q", tc.src, at(d), d.Message, tc.want, tc.msg)
		}
	}
}

func TestDuplicateKeyStillDecodes(t *testing.T) {
	src := "name: a\nstage: prod\ncount: 2\nstage: staging\n"
	d, ds := yamlsrc.Parse("f.yaml", []byte(src))
	if got := at(one(t, ds)); got != "4:1 YAML_DUPLICATE_KEY" {
		t.Fatalf("got %s", got)
	}
	var v doc
	if ds := d.Decode(&v); len(ds) != 0 {
		t.Fatalf("decode: %v", ds)
	}
	if v.Name != "a" || v.Stage != "prod" || v.Count != 2 {
		t.Errorf("decoded %+v; the first value of a duplicate key wins, the rest still decodes", v)
	}
}

func TestDecodeFindings(t *testing.T) {
	src := "name: a\ncount: many\nitems:\n  - {name: x, numbr: 1}\n  - [1, 2]\nlabels: [a]\nstagee: prod\n"
	d, ds := yamlsrc.Parse("f.yaml", []byte(src))
	if len(ds) != 0 {
		t.Fatal(ds)
	}
	var v doc
	got := d.Decode(&v)
	got.Sort()
	var lines []string
	for _, x := range got {
		lines = append(lines, at(x)+" "+x.Message)
	}
	want := []string{
		`2:8 YAML_TYPE "many" is text; expected a whole number`,
		`4:15 YAML_UNKNOWN_KEY unknown key "numbr" (did you mean "number"?)`,
		`5:5 YAML_TYPE a list is written here, expected a mapping`,
		`6:9 YAML_TYPE a list is written here, expected a mapping`,
		`7:1 YAML_UNKNOWN_KEY unknown key "stagee" (did you mean "stage"?)`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if v.Name != "a" || len(v.Items) == 0 || v.Items[0].Name != "x" {
		t.Errorf("decoding stops at the first problem: %+v", v)
	}
}

func TestPositions(t *testing.T) {
	src := "name: a\nitems:\n  - name: x\n    number: 7\n"
	d, _ := yamlsrc.Parse("f.yaml", []byte(src))
	for path, want := range map[string]string{
		"items[0].number": "f.yaml:4:13", "items[0].missing": "f.yaml:3:5", "nothing": "f.yaml:1:1", "name": "f.yaml:1:7",
	} {
		if got := d.Pos(path).String(); got != want {
			t.Errorf("Pos(%s) = %s, want %s", path, got, want)
		}
	}
	if got := d.KeyPos("items[0].number").String(); got != "f.yaml:4:5" {
		t.Errorf("KeyPos = %s", got)
	}
}

func TestHostileInputIsBounded(t *testing.T) {
	nest := "a: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n"
	var laughs strings.Builder
	laughs.WriteString("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&laughs, "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	for name, src := range map[string]string{"nesting": nest, "billion laughs": laughs.String(), "too large": strings.Repeat("#", yamlsrc.MaxFileSize+1)} {
		start := time.Now()
		d, ds := yamlsrc.Parse("f.yaml", []byte(src))
		if d != nil || len(ds) != 1 || ds[0].Line < 1 {
			t.Errorf("%s: want one finding and no document, got %v", name, ds)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("%s took %v", name, el)
		}
	}
	// Aliases that stay small are fine.
	if d, ds := yamlsrc.Parse("f.yaml", []byte("a: &a {x: 1}\nb: *a\n")); d == nil || len(ds) != 0 {
		t.Errorf("small aliases: %v", ds)
	}
}

func TestToJSON(t *testing.T) {
	d, _ := yamlsrc.Parse("f.yaml", []byte("x: {a: 1, b: true, c: \"2026-11-01T10:00:00Z\", d: 2026-11-01, e: null, f: [1.5, .inf], g: 0x10, h: yes}\n"))
	got, err := yamlsrc.ToJSON(d.Node("x"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":1,"b":true,"c":"2026-11-01T10:00:00Z","d":"2026-11-01","e":null,"f":[1.5,"Infinity"],"g":16,"h":"yes"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	d, _ = yamlsrc.Parse("f.yaml", []byte("a: &a 1\nx: {v: *a}\n"))
	if _, err := yamlsrc.ToJSON(d.Node("x")); err == nil {
		t.Error("aliases in examples must be refused")
	}
}
