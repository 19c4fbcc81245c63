package protogen_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile/parser"
	"github.com/bufbuild/protocompile/reporter"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/protogen"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// sameAsForm fails unless FormParsed gives Form's output and, when it built a tree, the tree the
// parser gives for that text (reflect.DeepEqual: every node, token, line and comment). It
// reports whether a tree was built.
func sameAsForm(t *testing.T, p *config.Project, ev *contract.Event) bool {
	t.Helper()
	got := protogen.FormParsed(p, ev)
	want := protogen.Form(p, ev)
	tree := got.Parsed
	got.Parsed = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: FormParsed's output differs from Form's:\n--- FormParsed\n%s\n--- Form\n%s", ev.File, got.Source, want.Source)
	}
	if tree == nil {
		return false
	}
	parsed, err := parser.Parse(want.Path, bytes.NewReader(want.Source), reporter.NewHandler(nil))
	if err != nil {
		t.Fatalf("%s: a tree was built for a file that does not parse: %v\n%s", ev.File, err, want.Source)
	}
	if !reflect.DeepEqual(tree, parsed) {
		t.Fatalf("%s: the tree differs from the parser's for\n%s", ev.File, want.Source)
	}
	return true
}

func TestFormParsedIsParse(t *testing.T) {
	p := loadProject(t, filepath.Join("testdata", "evctl.yaml"))
	ev := loadEvent(t, filepath.Join("testdata", "form", "every_type.yaml"), "contracts/feed/every_type.yaml")
	if !sameAsForm(t, p, ev) {
		t.Fatal("no tree built for the golden contract")
	}

	// Every form contract of a synthetic repository.
	dir := t.TempDir()
	if _, err := synth.WriteContracts(dir, synth.Options{N: 240, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Open(filepath.Join(dir, "evctl.yaml"), dir)
	if err != nil {
		t.Fatal(err)
	}
	built, form := 0, 0
	for _, ev := range ws.Events {
		if ev.Schema.Proto != nil {
			continue
		}
		form++
		if sameAsForm(t, ws.Project, ev) {
			built++
		}
	}
	if form == 0 || built != form {
		t.Fatalf("a tree for %d of %d form contracts", built, form)
	}
}

// TestFormParsedStandsAside: what the tree does not mirror goes to the parser (Parsed nil), with
// Form's text.
func TestFormParsedStandsAside(t *testing.T) {
	p := loadProject(t, filepath.Join("testdata", "evctl.yaml"))
	for name, edit := range map[string]func(ev *contract.Event){
		"keyword field":     func(ev *contract.Event) { ev.Schema.Fields[0].Name = "message" },
		"odd field name":    func(ev *contract.Event) { ev.Schema.Fields[0].Name = "a-b" },
		"unknown type":      func(ev *contract.Event) { ev.Schema.Fields[0].Type = "decimal" },
		"negative number":   func(ev *contract.Event) { ev.Schema.Fields[0].Number = -3 },
		"escaped stage":     func(ev *contract.Event) { ev.Stage = `a"b` },
		"NUL in a comment":  func(ev *contract.Event) { ev.Description = "a\x00b" },
		"bad UTF-8 comment": func(ev *contract.Event) { ev.Description = "a\xffb" },
		"float map key": func(ev *contract.Event) {
			ev.Schema.Fields = append(ev.Schema.Fields, contract.Field{Name: "m", Type: "map", KeyType: "double", ValueType: "string", Number: 90})
		},
	} {
		t.Run(name, func(t *testing.T) {
			ev := loadEvent(t, filepath.Join("testdata", "form", "every_type.yaml"), "contracts/feed/every_type.yaml")
			edit(ev)
			if sameAsForm(t, p, ev) {
				t.Fatal("a tree was built")
			}
		})
	}
}

// FuzzFormParsed: for contracts made of random fields (names, types, modes, numbers, comments,
// nesting, enum values, reserved entries), FormParsed writes Form's text and, when it builds a
// tree, the parser's tree.
func FuzzFormParsed(f *testing.F) {
	f.Add([]byte("abc"), "a description\nsecond line", "name")
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, "", "x_y")
	f.Add([]byte{200, 17, 33, 5, 9, 250, 3, 7, 7, 7, 1, 0, 44}, " \t\r\n", "message")
	p, diags := config.Parse(config.FileName, []byte(fuzzConfig))
	if diags.HasErrors() {
		f.Fatal(diags.Err())
	}
	f.Fuzz(func(t *testing.T, shape []byte, text, word string) {
		ev := &contract.Event{Name: "fuzz_event", Domain: "feed", File: "contracts/feed/fuzz_event.yaml", Description: text, Major: 1}
		r := &fuzzShape{b: shape, text: text, word: word}
		ev.Stage = r.pick("", "prod", "staging", word)
		ev.Schema.Fields = r.fields(0)
		ev.Schema.Reserved = r.reserved()
		sameAsForm(t, p, ev)
	})
}

const fuzzConfig = `version: 1
naming:
  proto_package: "acme.{domain}.v{major}"
platform_fields:
  - {name: event_id, type: string, mode: required, number: 1000, description: "Unique id."}
  - {name: event_time, type: timestamp, number: 1001}
`

// fuzzShape draws a contract's shape from fuzz bytes.
type fuzzShape struct {
	b          []byte
	text, word string
}

func (r *fuzzShape) next() int {
	if len(r.b) == 0 {
		return 0
	}
	v := int(r.b[0])
	r.b = r.b[1:]
	return v
}

func (r *fuzzShape) pick(opts ...string) string { return opts[r.next()%len(opts)] }

func (r *fuzzShape) fields(depth int) []contract.Field {
	n := r.next() % 6
	var fs []contract.Field
	for i := 0; i < n; i++ {
		f := contract.Field{
			Name:   r.pick(fmt.Sprintf("f%d", i), "user_id", r.word, "optional", "Weird Name", strings.Repeat("x", r.next()%4)),
			Type:   r.pick("string", "int64", "bool", "double", "bytes", "timestamp", "date", "enum", "record", "map", r.word),
			Mode:   r.pick("", contract.ModeRequired, contract.ModeRepeated, contract.ModeNullable),
			Number: r.next() - 8,
			Stage:  r.pick("", "", "beta", r.word),
			Open:   r.next()%2 == 0,
		}
		if r.next()%3 == 0 {
			f.Description = r.text
		} else if r.next()%2 == 0 {
			f.Description = "The field.\n\n  indented line\t"
		}
		switch f.Type {
		case "enum":
			for j := r.next() % 4; j > 0; j-- {
				f.Values = append(f.Values, contract.EnumValue{Name: r.pick("V_ONE", "V_TWO", r.word), Number: r.next() % 5})
			}
		case "record":
			if depth < 2 {
				f.Fields = r.fields(depth + 1)
				f.Reserved = r.reserved()
			}
		case "map":
			f.KeyType = r.pick("string", "int64", "bool", "double", r.word)
			f.ValueType = r.pick("string", "timestamp", "double", "enum", r.word)
		}
		fs = append(fs, f)
	}
	return fs
}

func (r *fuzzShape) reserved() contract.Reserved {
	var res contract.Reserved
	for i := r.next() % 3; i > 0; i-- {
		from := r.next()
		res.Numbers = append(res.Numbers, contract.Range{From: from, To: from + r.next()%3})
	}
	for i := r.next() % 3; i > 0; i-- {
		res.Names = append(res.Names, r.pick("old", r.word, "gone_field"))
	}
	return res
}

// TestFormParsedRandom runs FuzzFormParsed's check over seeded random shapes, and checks that
// they build trees (the fuzz target would prove little if every shape stood aside).
func TestFormParsedRandom(t *testing.T) {
	p, diags := config.Parse(config.FileName, []byte(fuzzConfig))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	built := 0
	for i := 0; i < 2000; i++ {
		shape := make([]byte, 64)
		for j := range shape {
			shape[j] = byte(rng.IntN(256))
		}
		ev := &contract.Event{Name: "fuzz_event", Domain: "feed", File: "contracts/feed/fuzz_event.yaml", Description: "Random.", Major: 1}
		r := &fuzzShape{b: shape, text: "text", word: "word"}
		ev.Stage = r.pick("", "prod", "staging", "word")
		ev.Schema.Fields = r.fields(0)
		ev.Schema.Reserved = r.reserved()
		if sameAsForm(t, p, ev) {
			built++
		}
	}
	if built < 100 {
		t.Fatalf("a tree for only %d of 2000 random contracts", built)
	}
}
