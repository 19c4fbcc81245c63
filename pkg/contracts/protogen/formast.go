package protogen

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bufbuild/protocompile/ast"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
)

// FormParsed is Form for a caller that compiles the effective contract next (lint's incremental
// check): Output.Parsed holds the file as protocompile's parser would give it, built while the
// text is written instead of lexing and parsing the text again (a tenth of a fresh lint's CPU
// went to parsing files evctl had just printed). The Source is Form's, byte for byte, and the
// tree is the parser's, node for node, token for token, comment for comment
// (TestFormParsedIsParse, FuzzFormParsed compare both with reflect.DeepEqual), so everything
// compiled from it (descriptors, source info, options) is what compiling the text gives.
//
// Form stays the one writer of the text; treePrinter writes the same text token by token, and
// the tests hold the two together (the text byte for byte, on the golden contracts, the synthetic
// repositories and FuzzFormParsed's random ones).
//
// The tree is built only for what Form prints from a contract lint accepts: names that are
// plain identifiers and not proto keywords, known types, non-negative numbers, strings that
// need no escapes, comments on their own lines. For anything else Parsed is nil and the
// compiler parses the text, as before.
func FormParsed(p *config.Project, ev *contract.Event) *Output {
	// Room for the text and its items up front: growing them was a good part of the cost.
	n := countFields(ev.Schema.Fields) + len(p.PlatformFields)
	t := &treePrinter{ok: true, buf: make([]byte, 0, 512+n*96), items: make([]treeItem, 0, 64+n*16)}
	path := FilePath(ev.Domain, ev.Name)
	file := t.file(p, ev, path)
	if file == nil {
		return Form(p, ev)
	}
	return &Output{
		Event:   ev.ID(),
		Path:    path,
		Message: p.ProtoPackage(ev) + "." + MessageName(ev.Name),
		Source:  t.buf,
		Parsed:  file,
	}
}

// treePrinter writes a .proto file and records its tokens and comments in the order
// protocompile's lexer adds them, so that the tree it builds can be handed to the compiler as
// the parser's.
type treePrinter struct {
	buf   []byte
	items []treeItem
	ok    bool
}

type treeItem struct {
	offset, length int
	comment        bool
}

// token writes s as one token; its ast.Token is its index among the items.
func (t *treePrinter) token(s string) ast.Token {
	tok := ast.Token(len(t.items))
	t.items = append(t.items, treeItem{offset: len(t.buf), length: len(s)})
	t.buf = append(t.buf, s...)
	return tok
}

func (t *treePrinter) space(s string) { t.buf = append(t.buf, s...) }

func (t *treePrinter) indent(n int) {
	for i := 0; i < n; i++ {
		t.buf = append(t.buf, "  "...)
	}
}

// commentLine writes indent and "// text" on a line of its own: the lexer attributes it to the
// next token as a leading comment (a comment is a trailing one only when it starts on the line
// the previous token ends on).
func (t *treePrinter) commentLine(indent int, text string) {
	if len(t.buf) > 0 && t.buf[len(t.buf)-1] != '\n' {
		t.ok = false
	}
	if strings.ContainsAny(text, "\n\x00") || !utf8.ValidString(text) {
		t.ok = false
	}
	t.indent(indent)
	t.items = append(t.items, treeItem{offset: len(t.buf), length: 3 + len(text), comment: true})
	t.buf = append(t.buf, "// "...)
	t.buf = append(t.buf, text...)
	t.buf = append(t.buf, '\n')
}

// comment is writer.comment.
func (t *treePrinter) comment(indent int, text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	for _, l := range strings.Split(text, "\n") {
		t.commentLine(indent, strings.TrimRight(l, " \t\r"))
	}
}

func (t *treePrinter) rune(r byte) *ast.RuneNode { return ast.NewRuneNode(rune(r), t.token(string(r))) }

func (t *treePrinter) keyword(s string) *ast.KeywordNode { return ast.NewKeywordNode(s, t.token(s)) }

// ident is a name the contract chose: a plain identifier that is no keyword, so that the grammar
// takes it where Form puts it.
func (t *treePrinter) ident(s string) *ast.IdentNode {
	if !isIdent(s) || protoKeywords[s] {
		t.ok = false
	}
	return ast.NewIdentNode(s, t.token(s))
}

// typeIdent is a type name as the grammar reduces it: one identifier, or a compound one.
func (t *treePrinter) typeIdent(s string) ast.IdentValueNode {
	parts := strings.Split(s, ".")
	if len(parts) == 1 {
		return t.word(s)
	}
	idents := make([]*ast.IdentNode, 0, len(parts))
	var dots []*ast.RuneNode
	for i, part := range parts {
		if i > 0 {
			dots = append(dots, t.rune('.'))
		}
		idents = append(idents, t.word(part))
	}
	return ast.NewCompoundIdentNode(nil, idents, dots)
}

// word is an identifier token where the grammar accepts keywords too (scalar types, package and
// option name components).
func (t *treePrinter) word(s string) *ast.IdentNode {
	if !isIdent(s) {
		t.ok = false
	}
	return ast.NewIdentNode(s, t.token(s))
}

// str is a string literal that strconv.Quote writes without escapes.
func (t *treePrinter) str(s string) *ast.StringLiteralNode {
	q := strconv.Quote(s)
	if len(q) != len(s)+2 {
		t.ok = false
	}
	return ast.NewStringLiteralNode(s, t.token(q))
}

func (t *treePrinter) uint(n int) *ast.UintLiteralNode {
	if n < 0 {
		t.ok = false
		n = 0
	}
	return ast.NewUintLiteralNode(uint64(n), t.token(strconv.Itoa(n)))
}

// file mirrors Form.
func (t *treePrinter) file(p *config.Project, ev *contract.Event, path string) *ast.FileNode {
	imports := formImports(p, ev)
	header := strings.TrimSuffix(Header(ev.File), "\n")
	t.commentLine(0, strings.TrimPrefix(header, "// "))
	t.space("\n")
	syntax := ast.NewSyntaxNode(t.keyword("syntax"), t.spaced('='), t.spacedStr("proto3"), t.rune(';'))
	t.space("\n\n")
	var decls []ast.FileElement
	kw := t.keyword("package")
	t.space(" ")
	pkg := t.typeIdent(p.ProtoPackage(ev))
	decls = append(decls, ast.NewPackageNode(kw, pkg, t.rune(';')))
	t.space("\n\n")
	for _, imp := range imports {
		kw := t.keyword("import")
		t.space(" ")
		name := t.str(imp)
		decls = append(decls, ast.NewImportNode(kw, nil, nil, name, t.rune(';')))
		t.space("\n")
	}
	t.space("\n")

	t.comment(0, ev.Description)
	msgKw := t.keyword("message")
	t.space(" ")
	name := t.ident(MessageName(ev.Name))
	t.space(" ")
	open := t.rune('{')
	t.space("\n")
	var body []ast.MessageElement
	body = append(body, t.option(1, "event", ev.ID()), t.option(1, "event_stage", stageOr(ev.Stage)))
	body = append(body, t.reserved(1, ev.Schema.Reserved)...)
	t.space("\n")
	body = append(body, t.fields(1, ev.Schema.Fields, false)...)
	if len(p.PlatformFields) > 0 {
		t.space("\n")
		t.commentLine(1, "Platform fields, injected from evctl.yaml.")
		t.space("\n")
		body = append(body, t.fields(1, p.PlatformFields, true)...)
	}
	body = append(body, t.nested(1, ev.Schema.Fields)...)
	closing := t.rune('}')
	t.space("\n")
	decls = append(decls, ast.NewMessageNode(msgKw, name, open, body, closing))
	if !t.ok {
		return nil
	}
	return t.finish(path, syntax, decls)
}

// finish makes the file's FileInfo as the lexer fills it (every line start, every token and
// comment in order, each comment attributed to the token after it) and the file node.
func (t *treePrinter) finish(path string, syntax *ast.SyntaxNode, decls []ast.FileElement) *ast.FileNode {
	info := ast.NewFileInfo(path, t.buf)
	for i, c := range t.buf {
		if c == '\n' {
			info.AddLine(i + 1)
		}
	}
	for _, it := range t.items {
		info.AddToken(it.offset, it.length)
	}
	eof := info.AddToken(len(t.buf), 0)
	var pending []ast.Token
	for i, it := range t.items {
		if it.comment {
			pending = append(pending, ast.Token(i))
			continue
		}
		for _, c := range pending {
			info.AddComment(c, ast.Token(i))
		}
		pending = pending[:0]
	}
	if len(pending) > 0 {
		return nil // a comment after the last token: the lexer's rule for it is not mirrored
	}
	return ast.NewFileNode(info, syntax, decls, eof)
}

// spaced writes " r " as the '=' of a declaration.
func (t *treePrinter) spaced(r byte) *ast.RuneNode {
	t.space(" ")
	n := t.rune(r)
	t.space(" ")
	return n
}

func (t *treePrinter) spacedStr(s string) *ast.StringLiteralNode { return t.str(s) }

// option writes `option (evctl.options.v1.name) = "value";`.
func (t *treePrinter) option(indent int, name, value string) *ast.OptionNode {
	t.indent(indent)
	kw := t.keyword("option")
	t.space(" ")
	optName := ast.NewOptionNameNode([]*ast.FieldReferenceNode{t.extension(evoptions.Package + "." + name)}, nil)
	eq := t.spaced('=')
	val := t.str(value)
	n := ast.NewOptionNode(kw, optName, eq, val, t.rune(';'))
	t.space("\n")
	return n
}

func (t *treePrinter) extension(name string) *ast.FieldReferenceNode {
	open := t.rune('(')
	n := t.typeIdent(name)
	return ast.NewExtensionFieldReferenceNode(open, n, t.rune(')'))
}

func (t *treePrinter) reserved(indent int, r contract.Reserved) []ast.MessageElement {
	var out []ast.MessageElement
	if len(r.Numbers) > 0 {
		t.indent(indent)
		kw := t.keyword("reserved")
		t.space(" ")
		var ranges []*ast.RangeNode
		var commas []*ast.RuneNode
		for i, rg := range r.Numbers {
			if i > 0 {
				commas = append(commas, t.rune(','))
				t.space(" ")
			}
			start := t.uint(rg.From)
			if rg.From == rg.To {
				ranges = append(ranges, ast.NewRangeNode(start, nil, nil, nil))
				continue
			}
			t.space(" ")
			to := t.keyword("to")
			t.space(" ")
			ranges = append(ranges, ast.NewRangeNode(start, to, t.uint(rg.To), nil))
		}
		out = append(out, ast.NewReservedRangesNode(kw, ranges, commas, t.rune(';')))
		t.space("\n")
	}
	if len(r.Names) > 0 {
		t.indent(indent)
		kw := t.keyword("reserved")
		t.space(" ")
		var names []ast.StringValueNode
		var commas []*ast.RuneNode
		for i, n := range r.Names {
			if i > 0 {
				commas = append(commas, t.rune(','))
				t.space(" ")
			}
			names = append(names, t.str(n))
		}
		out = append(out, ast.NewReservedNamesNode(kw, names, commas, t.rune(';')))
		t.space("\n")
	}
	return out
}

func (t *treePrinter) fields(indent int, fs []contract.Field, platform bool) []ast.MessageElement {
	out := make([]ast.MessageElement, 0, len(fs))
	for i := range fs {
		f := &fs[i]
		t.comment(indent, f.Description)
		t.indent(indent)
		out = append(out, t.field(f, platform))
		t.space("\n")
	}
	return out
}

// field mirrors fieldType and fieldOptions.
func (t *treePrinter) field(f *contract.Field, platform bool) ast.MessageElement {
	if f.Type == "map" {
		kw := t.keyword("map")
		lt := t.rune('<')
		key := ScalarTypes[f.KeyType]
		if !mapKeyWords[key] {
			t.ok = false
		}
		keyType := t.word(key)
		comma := t.rune(',')
		t.space(" ")
		valType := t.typeIdent(t.elemType(f.ValueType))
		mt := ast.NewMapTypeNode(kw, lt, keyType, comma, valType, t.rune('>'))
		t.space(" ")
		name := t.ident(f.Name)
		eq := t.spaced('=')
		tag := t.uint(f.Number)
		opts := t.compactOptions(f, platform)
		return ast.NewMapFieldNode(mt, name, eq, tag, opts, t.rune(';'))
	}
	var typ string
	switch f.Type {
	case "enum", "record":
		typ = PascalCase(f.Name)
		if !isIdent(typ) || protoKeywords[typ] {
			t.ok = false
		}
	default:
		typ = t.elemType(f.Type)
	}
	var label *ast.KeywordNode
	switch {
	case f.Mode == contract.ModeRepeated:
		label = t.keyword("repeated")
		t.space(" ")
	case f.Type == "record" || MessageTypes[f.Type][0] != "":
	default:
		label = t.keyword("optional")
		t.space(" ")
	}
	fieldType := t.typeIdent(typ)
	t.space(" ")
	name := t.ident(f.Name)
	eq := t.spaced('=')
	tag := t.uint(f.Number)
	opts := t.compactOptions(f, platform)
	return ast.NewFieldNode(label, fieldType, name, eq, tag, opts, t.rune(';'))
}

// elemType is elemType for a known type; any other makes the tree stand aside.
func (t *treePrinter) elemType(typ string) string {
	if s, ok := ScalarTypes[typ]; ok {
		return s
	}
	if m, ok := MessageTypes[typ]; ok {
		return m[0]
	}
	t.ok = false
	return "x"
}

// compactOptions mirrors fieldOptions: nil when the field has none.
func (t *treePrinter) compactOptions(f *contract.Field, platform bool) *ast.CompactOptionsNode {
	type opt struct {
		ext, sub, str string
		isStr         bool
	}
	var opts []opt
	if f.Mode == contract.ModeRequired {
		opts = append(opts, opt{ext: evoptions.Package + ".required"}, opt{ext: "buf.validate.field", sub: "required"})
	}
	if f.Stage != "" {
		opts = append(opts, opt{ext: evoptions.Package + ".stage", str: f.Stage, isStr: true})
	}
	if platform {
		opts = append(opts, opt{ext: evoptions.Package + ".platform"})
	}
	if f.Open && f.Type == "enum" {
		opts = append(opts, opt{ext: evoptions.Package + ".open_enum"})
	}
	if len(opts) == 0 {
		return nil
	}
	t.space(" ")
	open := t.rune('[')
	nodes := make([]*ast.OptionNode, 0, len(opts))
	var commas []*ast.RuneNode
	for i, o := range opts {
		if i > 0 {
			commas = append(commas, t.rune(','))
			t.space(" ")
		}
		refs := []*ast.FieldReferenceNode{t.extension(o.ext)}
		var dots []*ast.RuneNode
		if o.sub != "" {
			dots = append(dots, t.rune('.'))
			refs = append(refs, ast.NewFieldReferenceNode(t.word(o.sub)))
		}
		optName := ast.NewOptionNameNode(refs, dots)
		eq := t.spaced('=')
		var val ast.ValueNode
		if o.isStr {
			val = t.str(o.str)
		} else {
			val = t.word("true")
		}
		nodes = append(nodes, ast.NewCompactOptionNode(optName, eq, val))
	}
	return ast.NewCompactOptionsNode(open, nodes, commas, t.rune(']'))
}

// nested mirrors writeNested.
func (t *treePrinter) nested(indent int, fs []contract.Field) []ast.MessageElement {
	var out []ast.MessageElement
	for i := range fs {
		f := &fs[i]
		switch f.Type {
		case "enum":
			name := PascalCase(f.Name)
			t.space("\n")
			t.indent(indent)
			kw := t.keyword("enum")
			t.space(" ")
			n := t.ident(name)
			t.space(" ")
			open := t.rune('{')
			t.space("\n")
			var decls []ast.EnumElement
			decls = append(decls, t.enumValue(indent+1, UpperSnake(name)+"_UNSPECIFIED", 0))
			for j, v := range f.Values {
				num := v.Number
				if num == 0 {
					num = j + 1
				}
				decls = append(decls, t.enumValue(indent+1, v.Name, num))
			}
			t.indent(indent)
			out = append(out, ast.NewEnumNode(kw, n, open, decls, t.rune('}')))
			t.space("\n")
		case "record":
			t.space("\n")
			t.comment(indent, f.Description)
			t.indent(indent)
			kw := t.keyword("message")
			t.space(" ")
			n := t.ident(PascalCase(f.Name))
			t.space(" ")
			open := t.rune('{')
			t.space("\n")
			decls := []ast.MessageElement{} // the grammar's body of a record with no fields is empty, not nil
			decls = append(decls, t.reserved(indent+1, f.Reserved)...)
			decls = append(decls, t.fields(indent+1, f.Fields, false)...)
			decls = append(decls, t.nested(indent+1, f.Fields)...)
			t.indent(indent)
			out = append(out, ast.NewMessageNode(kw, n, open, decls, t.rune('}')))
			t.space("\n")
		}
	}
	return out
}

func (t *treePrinter) enumValue(indent int, name string, num int) *ast.EnumValueNode {
	t.indent(indent)
	n := t.ident(name)
	eq := t.spaced('=')
	v := ast.NewEnumValueNode(n, eq, t.uint(num), nil, t.rune(';'))
	t.space("\n")
	return v
}

// formImports are the imports Form writes, in its order.
func formImports(p *config.Project, ev *contract.Event) []string {
	set := map[string]bool{evoptions.OptionsFile: true}
	if anyRequired(ev.Schema.Fields) || anyRequired(p.PlatformFields) {
		set[evoptions.ValidateFile] = true
	}
	var walk func(fs []contract.Field, nested bool)
	walk = func(fs []contract.Field, nested bool) {
		for i := range fs {
			f := &fs[i]
			switch f.Type {
			case "enum", "record":
			case "map":
				if m, ok := MessageTypes[f.ValueType]; ok {
					set[m[1]] = true
				}
			default:
				if m, ok := MessageTypes[f.Type]; ok {
					set[m[1]] = true
				}
			}
			if nested && f.Type == "record" {
				walk(f.Fields, true)
			}
		}
	}
	walk(ev.Schema.Fields, true)
	walk(p.PlatformFields, false)
	out := make([]string, 0, len(set))
	for i := range set {
		out = append(out, i)
	}
	sort.Strings(out)
	return out
}

func countFields(fs []contract.Field) int {
	n := len(fs)
	for i := range fs {
		n += countFields(fs[i].Fields) + len(fs[i].Values)
	}
	return n
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// mapKeyWords are the key types the grammar takes in map<K, V>.
var mapKeyWords = map[string]bool{
	"int32": true, "int64": true, "uint32": true, "uint64": true, "sint32": true, "sint64": true,
	"fixed32": true, "fixed64": true, "sfixed32": true, "sfixed64": true, "bool": true, "string": true,
}

// protoKeywords are the words protocompile's lexer returns as keywords: a name Form writes that
// is one of them stands the tree aside (the grammar treats some of them apart in some places).
var protoKeywords = map[string]bool{
	"syntax": true, "edition": true, "import": true, "weak": true, "public": true, "package": true,
	"option": true, "true": true, "false": true, "inf": true, "nan": true, "repeated": true,
	"optional": true, "required": true, "double": true, "float": true, "int32": true,
	"int64": true, "uint32": true, "uint64": true, "sint32": true, "sint64": true, "fixed32": true,
	"fixed64": true, "sfixed32": true, "sfixed64": true, "bool": true, "string": true,
	"bytes": true, "group": true, "oneof": true, "map": true, "extensions": true, "to": true,
	"max": true, "reserved": true, "enum": true, "message": true, "extend": true, "service": true,
	"rpc": true, "stream": true, "returns": true,
}
