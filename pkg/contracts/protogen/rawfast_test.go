package protogen_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/protogen"
)

// rawCase is the raw-path event of testdata/rawrepo (payments/refund) and its evctl.yaml.
func rawCase(t testing.TB) (*config.Project, *contract.Event, string, []byte) {
	t.Helper()
	root := filepath.Join("testdata", "rawrepo")
	data, err := os.ReadFile(filepath.Join(root, "evctl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, diags := config.Parse(config.FileName, data)
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	yml, err := os.ReadFile(filepath.Join(root, "contracts", "payments", "refund.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ev, diags := contract.Parse("contracts/payments/refund.yaml", yml)
	if ev == nil || diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	rawFile, d := protogen.RawPath(ev)
	if d != nil {
		t.Fatal(d)
	}
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rawFile)))
	if err != nil {
		t.Fatal(err)
	}
	return p, ev, rawFile, src
}

// sameAsRaw fails unless RawParsed gives what Raw gives for src: the same Output (but Parsed)
// and the same findings. It reports whether the quick path (one parse) was taken.
func sameAsRaw(t *testing.T, p *config.Project, ev *contract.Event, rawFile string, src []byte) bool {
	t.Helper()
	fast, fdiags := protogen.RawParsed(p, ev, rawFile, src)
	slow, sdiags := protogen.Raw(p, ev, rawFile, src)
	if !reflect.DeepEqual(fdiags, sdiags) {
		t.Fatalf("findings differ:\nRawParsed %v\nRaw       %v\nsource:\n%s", fdiags, sdiags, src)
	}
	if (fast == nil) != (slow == nil) {
		t.Fatalf("RawParsed output %v, Raw output %v", fast != nil, slow != nil)
	}
	if fast == nil {
		return false
	}
	quick := fast.Parsed != nil
	f := *fast
	f.Parsed = nil
	if !reflect.DeepEqual(&f, slow) {
		t.Fatalf("outputs differ:\nRawParsed:\n%s\nRaw:\n%s\nlines %v / %v\nmessage %q / %q", f.Source, slow.Source, f.RawLine, slow.RawLine, f.Message, slow.Message)
	}
	if quick && fast.Parsed.Name() != fast.Path {
		t.Fatalf("parsed under %q, want %q", fast.Parsed.Name(), fast.Path)
	}
	return quick
}

// TestRawParsedOneParse: the repository's raw contract and variants of it (no package, imports
// after the message, comments and strings with braces, a brace after text) give Raw's output;
// the usual layouts take the quick path, the others fall back.
func TestRawParsedOneParse(t *testing.T) {
	p, ev, rawFile, src := rawCase(t)
	if !sameAsRaw(t, p, ev, rawFile, src) {
		t.Fatal("the repository's raw contract did not take the quick path")
	}
	variants := map[string]struct {
		from, to string
		quick    bool
	}{
		"no package":           {"package acme.payments.v1;\n", "", true},
		"import after message": {"import \"google/protobuf/timestamp.proto\";\n", "", true},
		"braces in comments":   {"// A refund was issued.\n", "// A refund { was } issued. /* } */\n/* { */\n", true},
		"brace in a string":    {"string x = 1;", "string x = 1 [json_name = \"a}b\"];", true},
		"brace after text":     {"    REASON_DUPLICATE = 1;\n  }\n}", "    REASON_DUPLICATE = 1;\n  } }", false},
		"tab before brace":     {"    REASON_DUPLICATE = 1;\n  }\n}", "    REASON_DUPLICATE = 1;\n  }\n\t}", true},
		"syntax error":         {"string refund_id = 1;", "string refund_id = ;", false},
		"platform clash":       {"string refund_id = 1;", "string event_id = 1;", false},
		"outside import":       {"\"common/money.proto\"", "\"../money.proto\"", false},
		"proto2":               {"\"proto3\"", "\"proto2\"", false},
		"no message":           {"message Refund {", "message Refunds {", false},
		"unterminated comment": {"message NotTheEvent {", "/* message NotTheEvent {", false},
		"import on one line":   {"import \"common/money.proto\";\n", "import \"common/money.proto\"; message X {}\n", true},
		"no newline at end":    {"string x = 1;\n}\n", "string x = 1;\n}", true},
	}
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			mod := bytes.Replace(src, []byte(v.from), []byte(v.to), 1)
			if bytes.Equal(mod, src) {
				t.Fatalf("variant %q changes nothing", name)
			}
			if got := sameAsRaw(t, p, ev, rawFile, mod); got != v.quick {
				t.Errorf("quick path %v, want %v", got, v.quick)
			}
		})
	}
}

// FuzzRawParsed: whatever the raw file, RawParsed gives Raw's output and findings.
func FuzzRawParsed(f *testing.F) {
	p, ev, rawFile, src := rawCase(f)
	f.Add(src)
	f.Add(bytes.Replace(src, []byte("package acme.payments.v1;\n"), nil, 1))
	f.Add([]byte("syntax = \"proto3\";\nmessage Refund {\n}\n"))
	f.Add([]byte("syntax = \"proto3\"; import \"a.proto\";\nmessage Refund { string a = 1; }"))
	f.Fuzz(func(t *testing.T, src []byte) {
		sameAsRaw(t, p, ev, rawFile, src)
	})
}
