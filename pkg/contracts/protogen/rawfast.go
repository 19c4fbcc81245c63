package protogen

import (
	"bytes"

	"github.com/bufbuild/protocompile/ast"
	"github.com/bufbuild/protocompile/parser"
	"github.com/bufbuild/protocompile/reporter"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
)

// RawParsed is Raw for a caller that compiles the effective contract next: Output.Parsed holds
// it parsed, so the raw file is parsed once rather than twice (Raw parses the raw file, then the
// compiler the effective one; raw contracts are the larger files). Where Raw has nothing to
// report, the effective contract is made from a quick scan of the raw file (where its imports
// end, where the message closes) and parsed; the parse then confirms the scan (the same
// imports, package and positions Raw reads off the raw file's own parse, and evctl's lines
// parsed as the statements they are), so the Output is Raw's, byte for byte
// (FuzzRawParsed). Anything else, findings included, goes through Raw.
func RawParsed(p *config.Project, ev *contract.Event, rawFile string, src []byte) (*Output, diag.List) {
	if o := rawFast(p, ev, rawFile, src); o != nil {
		return o, nil
	}
	return Raw(p, ev, rawFile, src)
}

// rawFast is RawParsed's quick path, or nil.
func rawFast(p *config.Project, ev *contract.Event, rawFile string, src []byte) *Output {
	want := ev.Schema.Proto.Message
	sc, ok := scanRaw(src, want)
	if !ok {
		return nil
	}
	imported := map[string]bool{}
	for _, imp := range sc.imports {
		imported[imp] = true
	}
	nImports := len(injectImports(p, copyBools(imported)))
	nFields := 2 + len(p.PlatformFields) // the event and stage options, then the fields
	// The message name is confirmed below; the package is taken from the parse.
	o := rawOutput(p, ev, rawFile, src, want, copyBools(imported), sc.headEnd, sc.closeAt)
	errs := 0
	h := reporter.NewHandler(reporter.NewReporter(func(reporter.ErrorWithPos) error { errs++; return nil }, nil))
	file, err := parser.Parse(o.Path, bytes.NewReader(o.Source), h)
	if err != nil || errs > 0 || file == nil || file.Syntax == nil || file.Edition != nil || file.Syntax.Syntax.AsString() != "proto3" {
		return nil
	}
	raw := func(n ast.Node) (start, end int, ok bool) {
		info := file.NodeInfo(n)
		s, e := info.Start().Line, info.End().Line
		if s < 1 || e >= len(o.RawLine) || s > e {
			return 0, 0, false
		}
		for l := s; l <= e; l++ {
			if o.RawLine[l] == 0 {
				return 0, 0, false // a raw statement with evctl's lines inside it
			}
		}
		return o.RawLine[s], o.RawLine[e], true
	}
	injected := func(n ast.Node) bool {
		info := file.NodeInfo(n)
		s, e := info.Start().Line, info.End().Line
		return s >= 1 && e < len(o.RawLine) && s <= e && o.RawLine[s] == 0 && o.RawLine[e] == 0
	}
	isInjectedLine := func(n ast.Node) bool {
		l := file.NodeInfo(n).Start().Line
		return l >= 1 && l < len(o.RawLine) && o.RawLine[l] == 0
	}
	// Raw reads the head's end after the syntax, the package and the imports, in order.
	_, headEnd, ok := raw(file.Syntax)
	if !ok {
		return nil
	}
	var pkg string
	var msg *ast.MessageNode
	seen := map[string]bool{}
	injImports := 0
	for _, d := range file.Decls {
		if isInjectedLine(d) {
			if _, isImport := d.(*ast.ImportNode); !isImport || !injected(d) {
				return nil
			}
			injImports++
			continue
		}
		if m, isMsg := d.(*ast.MessageNode); isMsg && string(m.Name.AsIdentifier()) == want {
			msg = m // evctl's fields are inside: checked below
			continue
		}
		_, end, ok := raw(d)
		if !ok {
			return nil
		}
		switch n := d.(type) {
		case *ast.PackageNode:
			pkg = string(n.Name.AsIdentifier())
			headEnd = end
		case *ast.ImportNode:
			imp := n.Name.AsString()
			if ImportOutside(imp) || !imported[imp] {
				return nil
			}
			seen[imp] = true
			headEnd = end
		}
	}
	if msg == nil || !isRawLine(o.RawLine, file.NodeInfo(msg).Start().Line) || headEnd != sc.headEnd || len(seen) != len(imported) || injImports != nImports {
		return nil
	}
	// The closing brace is the scanned one, on a line of its own making (nothing before it).
	closeLine := file.NodeInfo(msg.CloseBrace).Start().Line
	if closeLine < 1 || closeLine >= len(o.RawLine) || o.RawLine[closeLine] == 0 ||
		lineStart(src, o.RawLine[closeLine])+file.NodeInfo(msg.CloseBrace).Start().Offset-lineStart(o.Source, closeLine) != sc.closeAt {
		return nil
	}
	injFields := 0
	for _, d := range msg.Decls {
		if isInjectedLine(d) {
			if !injected(d) {
				return nil
			}
			injFields++
			continue
		}
		if _, _, ok := raw(d); !ok {
			return nil
		}
	}
	if injFields != nFields {
		return nil
	}
	// Raw's remaining finding: a raw field that takes a platform field's name or number.
	if clash := platformClashes(p, file, &ast.MessageNode{MessageBody: ast.MessageBody{Decls: rawDecls(msg, isInjectedLine)}}, rawFile); len(clash) > 0 {
		return nil
	}
	if pkg != "" {
		o.Message = pkg + "." + want
	}
	o.Parsed = file
	return o
}

func isRawLine(rawLine []int, l int) bool { return l >= 1 && l < len(rawLine) && rawLine[l] != 0 }

// rawDecls are the declarations of msg that came from the raw file.
func rawDecls(msg *ast.MessageNode, injected func(ast.Node) bool) []ast.MessageElement {
	var out []ast.MessageElement
	for _, d := range msg.Decls {
		if !injected(d) {
			out = append(out, d)
		}
	}
	return out
}

// lineStart is the byte offset of 1-based line n in b.
func lineStart(b []byte, n int) int {
	at := 0
	for ; n > 1; n-- {
		i := bytes.IndexByte(b[at:], '\n')
		if i < 0 {
			return len(b)
		}
		at += i + 1
	}
	return at
}

func copyBools(m map[string]bool) map[string]bool {
	c := make(map[string]bool, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// rawScan is what scanRaw finds: the line where the last of the syntax, package and import
// statements ends, the byte offset of the closing brace of the last top-level message named
// want, and the imports.
type rawScan struct {
	headEnd int
	closeAt int
	imports []string
}

// scanRaw reads a raw .proto's top-level statements without parsing it: comments, strings and
// braces are followed, and anything unusual (an unterminated comment or string, an escape in an
// import, unbalanced braces, no syntax statement, no message named want) gives up (ok false).
// It only guesses: rawFast checks the guess against the parse.
func scanRaw(src []byte, want string) (sc rawScan, ok bool) {
	sc.closeAt = -1
	line, depth := 1, 0
	stmtStart := true // the next token starts a top-level statement
	var head string   // "syntax", "package" or "import" while in such a statement
	var importPath string
	importStrings := 0
	msgName, inMsg := "", "" // a top-level message: its name once read, then while in its body
	expectName := false
	sawSyntax := false
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := bytes.Index(src[i+2:], []byte("*/"))
			if end < 0 {
				return sc, false
			}
			line += bytes.Count(src[i:i+2+end+2], []byte("\n"))
			i += 2 + end + 2
			continue
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' || src[j] == '\n' {
					if head == "import" || src[j] == '\n' {
						return sc, false
					}
					j++ // an escaped character
				}
				j++
			}
			if j >= len(src) {
				return sc, false
			}
			if head == "import" {
				importPath = string(src[i+1 : j])
				importStrings++
			}
			stmtStart, expectName = false, false
			i = j + 1
			continue
		case isIdentByte(c):
			j := i
			for j < len(src) && (isIdentByte(src[j]) || src[j] == '.') {
				j++
			}
			word := string(src[i:j])
			if depth == 0 && stmtStart {
				switch word {
				case "syntax":
					head, sawSyntax = word, true
				case "edition":
					return sc, false
				case "package", "import":
					head = word
				case "message":
					expectName = true
				}
			} else if expectName {
				msgName, expectName = word, false
			}
			stmtStart = false
			i = j
			continue
		case c == '{':
			if depth == 0 && msgName != "" {
				inMsg = msgName
			}
			msgName, expectName = "", false
			depth++
		case c == '}':
			depth--
			if depth < 0 {
				return sc, false
			}
			if depth == 0 {
				if inMsg == want {
					sc.closeAt = i
				}
				inMsg = ""
				stmtStart = true
			}
		case c == ';':
			if depth == 0 {
				if head != "" {
					if head == "import" {
						if importStrings != 1 {
							return sc, false
						}
						sc.imports = append(sc.imports, importPath)
					}
					sc.headEnd = line
				}
				head, importStrings = "", 0
				msgName, expectName = "", false
				stmtStart = true
			}
		default:
			stmtStart, expectName = false, false
		}
		i++
	}
	if depth != 0 || !sawSyntax || sc.closeAt < 0 || head != "" {
		return sc, false
	}
	return sc, true
}

func isIdentByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
