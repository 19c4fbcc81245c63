package protogen_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/protogen"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func loadProject(t *testing.T, path string) *config.Project {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, diags := config.Parse(config.FileName, data)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", path, diags.Err())
	}
	return p
}

func loadEvent(t *testing.T, path, repoPath string) *contract.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ev, diags := contract.Parse(repoPath, data)
	if ev == nil || diags.HasErrors() {
		t.Fatalf("%s: %v", path, diags.Err())
	}
	return ev
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// compileOne compiles outputs against the repository at root and fails on any finding.
func compileOne(t *testing.T, root string, outs ...*protogen.Output) (*compile.Result, diag.List) {
	t.Helper()
	return compile.Compile(context.Background(), root, outs)
}

func TestFormGolden(t *testing.T) {
	p := loadProject(t, filepath.Join("testdata", "evctl.yaml"))
	ev := loadEvent(t, filepath.Join("testdata", "form", "every_type.yaml"), "contracts/feed/every_type.yaml")
	out := protogen.Form(p, ev)
	if out.Path != "feed/every_type.proto" || out.Message != "acme.feed.v2.EveryType" || out.Event != "feed/every_type" {
		t.Errorf("path %q, message %q, event %q", out.Path, out.Message, out.Event)
	}
	if out.RawFile != "" || out.RawLine != nil {
		t.Errorf("the form path has no raw file: %q %v", out.RawFile, out.RawLine)
	}
	golden(t, "every_type.proto", out.Source)

	// The golden file must also compile, with every YAML type where it should be.
	res, diags := compileOne(t, t.TempDir(), out)
	if len(diags) > 0 {
		t.Fatalf("the effective contract does not compile: %v", diags)
	}
	md := res.Messages["feed/every_type"]
	for name, want := range map[string]string{
		"s": "string", "b": "bool", "i32": "int32", "i64": "int64", "u32": "uint32", "u64": "uint64",
		"f": "float", "d": "double", "raw": "bytes", "at": "message", "day": "message",
		"play_quality": "enum", "device": "message", "counts": "message", "tags": "string",
		"event_id": "string", "event_time": "message", "event_day": "message",
	} {
		fd := md.Fields().ByName(protoreflectName(name))
		if fd == nil {
			t.Errorf("field %s missing", name)
			continue
		}
		if got := fd.Kind().String(); got != want {
			t.Errorf("field %s is %s, want %s", name, got, want)
		}
	}
	if fd := md.Fields().ByName("b"); !fd.HasPresence() {
		t.Error("a nullable scalar must keep presence (optional)")
	}
	if fd := md.Fields().ByName("counts"); !fd.IsMap() {
		t.Error("counts must be a map")
	}
	if fd := md.Fields().ByName("day"); fd.Message().FullName() != "google.type.Date" {
		t.Errorf("date maps to %s", fd.Message().FullName())
	}
	if fd := md.Fields().ByName("at"); fd.Message().FullName() != "google.protobuf.Timestamp" {
		t.Errorf("timestamp maps to %s", fd.Message().FullName())
	}
	if ev := md.Enums().ByName("PlayQuality"); ev == nil || ev.Values().ByNumber(0).Name() != "PLAY_QUALITY_UNSPECIFIED" || ev.Values().ByName("HD").Number() != 5 {
		t.Error("enum PlayQuality needs PLAY_QUALITY_UNSPECIFIED = 0 and HD = 5")
	}
}

func TestRawGolden(t *testing.T) {
	root := filepath.Join("testdata", "rawrepo")
	p := loadProject(t, filepath.Join(root, "evctl.yaml"))
	ev := loadEvent(t, filepath.Join(root, "contracts", "payments", "refund.yaml"), "contracts/payments/refund.yaml")
	rawFile, d := protogen.RawPath(ev)
	if d != nil {
		t.Fatal(d)
	}
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rawFile)))
	if err != nil {
		t.Fatal(err)
	}
	out, diags := protogen.Raw(p, ev, rawFile, src)
	if len(diags) > 0 || out == nil {
		t.Fatalf("raw: %v", diags)
	}
	if out.Message != "acme.payments.v1.Refund" || out.RawFile != "contracts/payments/refund.proto" {
		t.Errorf("message %q, raw file %q", out.Message, out.RawFile)
	}
	golden(t, "refund.proto", out.Source)

	// Every line that came from the raw file maps back to its own text there; injected lines to 0.
	rawLines := strings.Split(string(src), "\n")
	outLines := strings.Split(string(out.Source), "\n")
	injected := 0
	for i, l := range outLines[:len(outLines)-1] {
		n := out.RawLine[i+1]
		if n == 0 {
			injected++
			continue
		}
		if strings.TrimSpace(l) != "" && !strings.Contains(rawLines[n-1], strings.TrimSpace(l)) {
			t.Errorf("effective line %d %q maps to raw line %d %q", i+1, l, n, rawLines[n-1])
		}
	}
	if injected == 0 {
		t.Error("no injected lines: the platform fields and options are missing")
	}
	res, diags := compileOne(t, root, out)
	if len(diags) > 0 {
		t.Fatalf("the effective contract does not compile: %v", diags)
	}
	md := res.Messages["payments/refund"]
	for _, name := range []string{"refund_id", "event_id", "event_time", "event_day"} {
		if md.Fields().ByName(protoreflectName(name)) == nil {
			t.Errorf("field %s missing from the effective contract", name)
		}
	}
}

// TestRawCompileErrorLine: a compiler error in the raw file, below the lines evctl injects (its
// imports, then its fields before the closing brace on the same line), is reported at the raw
// file's own line and column.
func TestRawCompileErrorLine(t *testing.T) {
	root := filepath.Join("testdata", "rawrepo")
	p := loadProject(t, filepath.Join(root, "evctl.yaml"))
	ev := loadEvent(t, filepath.Join(root, "contracts", "payments", "purchase.yaml"), "contracts/payments/purchase.yaml")
	rawFile, _ := protogen.RawPath(ev)
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rawFile)))
	if err != nil {
		t.Fatal(err)
	}
	out, diags := protogen.Raw(p, ev, rawFile, src)
	if len(diags) > 0 {
		t.Fatalf("raw: %v", diags)
	}
	_, diags = compileOne(t, root, out)
	if len(diags) != 1 {
		t.Fatalf("want one finding, got %v", diags)
	}
	d := diags[0]
	if d.File != "contracts/payments/purchase.proto" || d.Line != 11 || d.Col != 3 || d.Rule != compile.RuleCompile || !strings.Contains(d.Message, "Unknown") {
		t.Errorf("got %s, want contracts/payments/purchase.proto:11:3 PROTO_COMPILE about Unknown", d)
	}
}

func TestRawPathRefusesEscapes(t *testing.T) {
	for _, name := range []string{"../x.proto", "/etc/x.proto", "sub/x.proto", `..\x.proto`, "", "x.txt", ".."} {
		ev := &contract.Event{File: "contracts/payments/e.yaml", Dir: "payments", Schema: contract.Schema{Proto: &contract.ProtoRef{File: name, Message: "E"}}}
		if got, d := protogen.RawPath(ev); d == nil || d.Rule != protogen.RuleProtoPath {
			t.Errorf("RawPath(%q) = %q, %v; want a %s finding", name, got, d, protogen.RuleProtoPath)
		}
	}
	ev := &contract.Event{File: "contracts/payments/e.yaml", Dir: "payments", Schema: contract.Schema{Proto: &contract.ProtoRef{File: "e.proto", Message: "E"}}}
	if got, d := protogen.RawPath(ev); d != nil || got != "contracts/payments/e.proto" {
		t.Errorf("RawPath(e.proto) = %q, %v", got, d)
	}
}

func TestImportOutside(t *testing.T) {
	for p, want := range map[string]bool{
		"common/money.proto": false, "google/type/date.proto": false,
		"../x.proto": true, "../../etc/passwd.proto": true, "/etc/x.proto": true,
		"common/../../x.proto": true, "./common/money.proto": true, `common\money.proto`: true, "": true,
	} {
		if got := protogen.ImportOutside(p); got != want {
			t.Errorf("ImportOutside(%q) = %v, want %v", p, got, want)
		}
	}
}
