package protogen

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/bufbuild/protocompile/ast"
	"github.com/bufbuild/protocompile/parser"
	"github.com/bufbuild/protocompile/reporter"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
)

// Rule IDs for the upload path.
const (
	RuleProtoPath     = "PROTO_FILE_PATH"
	RuleProtoMissing  = "PROTO_FILE_MISSING"
	RuleProtoSyntax   = "PROTO_SYNTAX"
	RuleProtoMessage  = "PROTO_MESSAGE_MISSING"
	RulePlatformClash = "PLATFORM_FIELD_CLASH"
	RuleProtoSyntaxV  = "PROTO_SYNTAX_VERSION"
	RuleImportOutside = "PROTO_IMPORT_OUTSIDE_REPO"
)

// ImportOutside reports whether an import path would leave contracts/: absolute, "..", a
// backslash, or not in clean form. Imports are relative to contracts/ (and the embedded protos).
func ImportOutside(p string) bool {
	clean := path.Clean(p)
	return path.IsAbs(p) || clean != p || clean == ".." || strings.HasPrefix(clean, "../") ||
		strings.Contains(p, "\\") || strings.ContainsAny(p, "\x00\n\r") || p == ""
}

// RawPath returns the repository path of an upload-path event's .proto, or a finding when the
// name leaves the event's folder (path traversal, absolute paths, other folders).
func RawPath(ev *contract.Event) (string, *diag.Diagnostic) {
	name := ev.Schema.Proto.File
	pos := ev.Pos("schema.proto.file")
	bad := func(why string) (string, *diag.Diagnostic) {
		d := diag.Errorf(pos, RuleProtoPath, "proto.file %q %s", name, why)
		return "", &d
	}
	switch {
	case name == "":
		return bad("is empty: name a .proto file beside the event's YAML")
	case strings.ContainsAny(name, "/\\") || name == "." || name == "..":
		return bad("must be a file name in the event's own folder, without a path")
	case !strings.HasSuffix(name, ".proto"):
		return bad("must end in .proto")
	case strings.ContainsAny(name, "\x00\n\r"):
		return bad("contains control characters")
	}
	return path.Join(contract.Dir, ev.Dir, name), nil
}

// Raw builds the effective contract of an upload-path event from the raw source. rawFile is its
// repository path (from RawPath). Problems in the raw file are reported at raw positions.
func Raw(p *config.Project, ev *contract.Event, rawFile string, src []byte) (*Output, diag.List) {
	var diags diag.List
	handler := reporter.NewHandler(reporter.NewReporter(func(err reporter.ErrorWithPos) error {
		pos := err.GetPosition()
		diags.Add(diag.Errorf(diag.Pos{File: rawFile, Line: pos.Line, Col: pos.Col}, RuleProtoSyntax, "%v", err.Unwrap()))
		return nil
	}, nil))
	file, err := parser.Parse(rawFile, bytes.NewReader(src), handler)
	if err != nil || diags.HasErrors() {
		if len(diags) == 0 {
			diags.Add(diag.Errorf(diag.Pos{File: rawFile, Line: 1, Col: 1}, RuleProtoSyntax, "%v", errors.Unwrap(err)))
		}
		return nil, diags
	}
	want := ev.Schema.Proto.Message
	var msg *ast.MessageNode
	var pkg string
	var lastHead ast.Node // the syntax, package or last import: imports go after it
	imported := map[string]bool{}
	syntax := "proto2"
	if file.Syntax != nil {
		syntax = file.Syntax.Syntax.AsString()
		lastHead = file.Syntax
	} else if file.Edition != nil {
		syntax = "editions " + file.Edition.Edition.AsString()
		lastHead = file.Edition
	}
	for _, d := range file.Decls {
		switch n := d.(type) {
		case *ast.PackageNode:
			pkg = string(n.Name.AsIdentifier())
			lastHead = n
		case *ast.ImportNode:
			imp := n.Name.AsString()
			imported[imp] = true
			lastHead = n
			if ImportOutside(imp) {
				at := file.NodeInfo(n.Name).Start()
				diags.Add(diag.Errorf(diag.Pos{File: rawFile, Line: at.Line, Col: at.Col}, RuleImportOutside,
					"import %q leaves the repository; imports are paths relative to %s/, like \"common/money.proto\"", imp, contract.Dir))
			}
		case *ast.MessageNode:
			if string(n.Name.AsIdentifier()) == want {
				msg = n
			}
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	if syntax != "proto3" {
		diags.Add(diag.Errorf(diag.Pos{File: rawFile, Line: 1, Col: 1}, RuleProtoSyntaxV,
			"evctl contracts are proto3; this file says syntax %q", syntax))
		return nil, diags
	}
	if msg == nil {
		diags.Add(diag.Errorf(ev.Pos("schema.proto.message"), RuleProtoMessage,
			"message %q is not declared at the top level of %s", want, rawFile))
		return nil, diags
	}
	diags.Add(platformClashes(p, file, msg, rawFile)...)
	if diags.HasErrors() {
		return nil, diags
	}

	name := want
	if pkg != "" {
		name = pkg + "." + want
	}
	headEnd := 0 // the syntax is checked above, so lastHead is set
	if lastHead != nil {
		headEnd = file.NodeInfo(lastHead).End().Line
	}
	return rawOutput(p, ev, rawFile, src, name, imported, headEnd, file.NodeInfo(msg.CloseBrace).Start().Offset), diags
}

// rawOutput makes the effective contract of a raw file: the header, then the raw lines with
// evctl's imports after line headEnd and its options and platform fields before the message's
// closing brace, at byte offset closeAt (split off its line when text precedes it there).
// Injected text goes in as whole lines so that RawLine can map every line back.
func rawOutput(p *config.Project, ev *contract.Event, rawFile string, src []byte, message string, imported map[string]bool, headEnd, closeAt int) *Output {
	lines := strings.SplitAfter(string(src), "\n")
	var out []string
	var rawLine []int
	emit := func(text string, raw int) {
		out = append(out, text)
		rawLine = append(rawLine, raw)
	}
	emit(Header(rawFile), 0)
	at := 0 // the offset of line n in src
	for i, l := range lines {
		n := i + 1
		if at <= closeAt && closeAt < at+len(l) {
			before := l[:closeAt-at]
			if strings.TrimSpace(before) != "" {
				emit(before+"\n", n)
				l = l[closeAt-at:]
			}
			for _, inj := range injectFields(p, ev) {
				emit(inj, 0)
			}
		}
		at += len(lines[i])
		emit(l, n)
		if n == headEnd {
			for _, imp := range injectImports(p, imported) {
				emit(imp, 0)
			}
		}
	}
	if len(out) > 0 && !strings.HasSuffix(out[len(out)-1], "\n") {
		out[len(out)-1] += "\n"
	}
	return &Output{
		Event:   ev.ID(),
		Path:    FilePath(ev.Domain, ev.Name),
		Message: message,
		Source:  []byte(strings.Join(out, "")),
		RawFile: rawFile,
		RawLine: append([]int{0}, rawLine...), // index by 1-based line
	}
}

func injectImports(p *config.Project, have map[string]bool) []string {
	need := []string{evoptions.OptionsFile}
	if anyRequired(p.PlatformFields) {
		need = append(need, evoptions.ValidateFile)
	}
	for _, f := range p.PlatformFields {
		if m, ok := MessageTypes[f.Type]; ok {
			need = append(need, m[1])
		}
	}
	var out []string
	for _, n := range need {
		if !have[n] {
			have[n] = true
			out = append(out, fmt.Sprintf("import %q; // injected by evctl\n", n))
		}
	}
	return out
}

func injectFields(p *config.Project, ev *contract.Event) []string {
	w := &writer{imports: map[string]bool{}}
	w.line(1, "// Injected by evctl.")
	w.line(1, "option (%s.event) = %s;", evoptions.Package, strconv.Quote(ev.ID()))
	w.line(1, "option (%s.event_stage) = %s;", evoptions.Package, strconv.Quote(stageOr(ev.Stage)))
	writeFields(w, 1, p.PlatformFields, true)
	parts := strings.SplitAfter(w.b.String(), "\n") // ends in "\n", so the last part is empty
	return parts[:len(parts)-1]
}

// platformClashes reports raw fields whose name or number a platform field takes.
func platformClashes(p *config.Project, file *ast.FileNode, msg *ast.MessageNode, rawFile string) diag.List {
	var out diag.List
	names := map[string]bool{}
	for _, f := range p.PlatformFields {
		names[f.Name] = true
	}
	check := func(name string, num uint64, n ast.Node) {
		pos := file.NodeInfo(n).Start()
		dp := diag.Pos{File: rawFile, Line: pos.Line, Col: pos.Col}
		switch {
		case names[name]:
			out.Add(diag.Errorf(dp, RulePlatformClash, "field %q is a platform field that evctl injects; remove it", name))
		case num >= 1000 && num <= 1099:
			out.Add(diag.Errorf(dp, RulePlatformClash, "field %q uses number %d; 1000-1099 are reserved for platform fields", name, num))
		}
	}
	// A field written without its number parses (the compiler reports it): its Tag is nil.
	tag := func(t *ast.UintLiteralNode) uint64 {
		if t == nil {
			return 0
		}
		return t.Val
	}
	for _, d := range msg.Decls {
		switch f := d.(type) {
		case *ast.FieldNode:
			check(string(f.Name.AsIdentifier()), tag(f.Tag), f)
		case *ast.MapFieldNode:
			check(string(f.Name.AsIdentifier()), tag(f.Tag), f)
		case *ast.OneofNode:
			for _, od := range f.Decls {
				if of, ok := od.(*ast.FieldNode); ok {
					check(string(of.Name.AsIdentifier()), tag(of.Tag), of)
				}
			}
		}
	}
	return out
}
