// Package yamlsrc parses YAML documents while keeping where every value came from, so that every
// problem evctl reports names file:line:column. It decodes into plain Go structs and reports
// syntax errors, duplicate keys, unknown keys and type mismatches as diagnostics, all at once.
// It knows nothing of what the documents mean.
package yamlsrc

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/contracts/diag"
)

// Rule IDs for problems found while reading YAML.
const (
	RuleSyntax     = "YAML_SYNTAX"
	RuleDuplicate  = "YAML_DUPLICATE_KEY"
	RuleUnknownKey = "YAML_UNKNOWN_KEY"
	RuleType       = "YAML_TYPE"
	RuleTooLarge   = "FILE_TOO_LARGE"
)

// MaxFileSize bounds one YAML file: contracts are small, and a huge file is a mistake or an attack.
const MaxFileSize = 1 << 20

// MaxDepth bounds nesting of YAML collections.
const MaxDepth = 64

// Doc is one parsed YAML document. Positions are found by walking the tree along a value path
// ("schema.fields[2].number"): a path index of every node would cost more memory than the tree
// itself, for the few paths that are ever looked up.
type Doc struct {
	File string
	Root *yaml.Node            // the top mapping (or whatever the document holds); nil for an empty file
	idx  map[string]*yaml.Node // built by index() for diagnostics that search the whole document

	mu       sync.Mutex
	data     []byte // the source, to parse again after Release
	released bool
}

// Release drops the parsed tree while the document is not needed, to save memory (for a large
// repository the trees outweigh the decoded contracts several times). Positions are still found:
// the first lookup afterwards parses the source again, with the same result. Root is nil until
// then; Decode must not be called after Release.
func (d *Doc) Release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.data != nil && d.Root != nil {
		d.Root, d.idx, d.released = nil, nil, true
	}
}

// tree returns Root, parsing the source again if it was released. The source parsed before,
// so it parses again; duplicate keys are dropped as the first time.
func (d *Doc) tree() *yaml.Node {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.released {
		d.released = false
		var n yaml.Node
		if err := yaml.Unmarshal(d.data, &n); err == nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			d.Root = n.Content[0]
			_ = d.duplicates(d.Root)
		}
	}
	return d.Root
}

// Parse parses data as one YAML document. On a syntax problem it returns a nil Doc and the
// diagnostics; duplicate keys are reported but the document is still returned.
func Parse(file string, data []byte) (doc *Doc, diags diag.List) {
	if len(data) > MaxFileSize {
		diags.Add(diag.Errorf(diag.Pos{File: file, Line: 1, Col: 1}, RuleTooLarge,
			"file is %d bytes; the limit is %d", len(data), MaxFileSize))
		return nil, diags
	}
	defer func() {
		// yaml.v3 has panicked on hostile input in the past; a contract file must never crash evctl.
		if r := recover(); r != nil {
			doc = nil
			diags = diag.List{diag.Errorf(diag.Pos{File: file, Line: 1, Col: 1}, RuleSyntax, "cannot parse YAML: %v", r)}
		}
	}()
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		diags.Add(syntaxDiag(file, data, err))
		return nil, diags
	}
	d := &Doc{File: file, data: data}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		d.Root = n.Content[0]
	}
	if d.Root != nil {
		if deep := tooDeep(d.Root, 0); deep != nil {
			diags.Add(diag.Errorf(d.pos(deep), RuleSyntax, "YAML nests deeper than %d levels here", MaxDepth))
			return nil, diags
		}
		if a, size := aliasBomb(d.Root); a != nil {
			diags.Add(diag.Errorf(d.pos(a), RuleSyntax, "aliases expand this file to more than %d values; write the values out instead", size))
			return nil, diags
		}
		diags.Add(d.duplicates(d.Root)...)
	}
	return d, diags
}

// MaxExpanded bounds the number of values a document may hold once its aliases are expanded:
// decoding copies every alias, so "billion laughs" anchors would otherwise cost memory and time
// exponential in the file's size.
const MaxExpanded = 200_000

// aliasBomb returns the first alias at which the expanded document grows past MaxExpanded, or
// nil. Sizes are memoised per node, so the walk is linear in the written document.
func aliasBomb(root *yaml.Node) (*yaml.Node, int) {
	if !hasAlias(root, 0) {
		// Without aliases the expanded document is the written one (and a finding needs an
		// alias): the memoised walk below would only cost a map entry per node.
		return nil, 0
	}
	memo := map[*yaml.Node]int{}
	var at *yaml.Node
	aliases := false
	var size func(n *yaml.Node, depth int) int
	size = func(n *yaml.Node, depth int) int {
		if v, ok := memo[n]; ok {
			return v
		}
		memo[n] = MaxExpanded + 1 // a cycle counts as unbounded
		total := 1
		if n.Kind == yaml.AliasNode && n.Alias != nil && depth < 4*MaxDepth {
			aliases = true
			total += size(n.Alias, depth+1)
			if total > MaxExpanded && at == nil {
				at = n
			}
		}
		for _, c := range n.Content {
			total += size(c, depth+1)
			if total > MaxExpanded {
				total = MaxExpanded + 1
				if at == nil {
					at = n // the smallest collection that grows too large
				}
				break
			}
		}
		memo[n] = total
		return total
	}
	if size(root, 0) > MaxExpanded && aliases {
		if at == nil {
			at = root
		}
		return at, MaxExpanded
	}
	return nil, 0
}

// hasAlias reports whether an alias is among n and its descendants (Parse walks it after
// tooDeep, so the depth is bounded; the bound is kept anyway).
func hasAlias(n *yaml.Node, depth int) bool {
	if n.Kind == yaml.AliasNode || depth > 4*MaxDepth {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c, depth+1) {
			return true
		}
	}
	return false
}

// tooDeep returns the first node nested deeper than MaxDepth, or nil. It stops there, so a
// nesting bomb costs no more than MaxDepth frames.
func tooDeep(n *yaml.Node, d int) *yaml.Node {
	if d > MaxDepth {
		return n
	}
	for _, c := range n.Content {
		if deep := tooDeep(c, d+1); deep != nil {
			return deep
		}
	}
	return nil
}

var lineRE = regexp.MustCompile(`line (\d+)`)

// syntaxDiag turns a yaml.v3 error into a finding. yaml.v3 counts lines from 0 for parser errors
// ("did not find expected ...": the line of the construct being parsed) and from 1 for scanner
// errors, so parser errors get one added; the column is found on that line.
func syntaxDiag(file string, data []byte, err error) diag.Diagnostic {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimSpace(strings.TrimPrefix(strings.Replace(msg, m[0], "", 1), ":"))
		if strings.HasPrefix(msg, "did not find expected") || strings.HasPrefix(msg, "found undefined tag handle") {
			line++
		}
	}
	lines := bytes.Split(data, []byte("\n"))
	line = min(max(line, 1), max(len(lines), 1))
	col := 1
	text := func(n int) []byte {
		if n >= 1 && n <= len(lines) {
			return lines[n-1]
		}
		return nil
	}
	l := text(line)
	if i := len(l) - len(bytes.TrimLeft(l, " ")); i < len(l) {
		col = i + 1
	}
	switch {
	case strings.Contains(msg, "tab"), strings.Contains(msg, "cannot start any token") && bytes.IndexByte(l, '\t') >= 0:
		// the tab is on the reported line or, for indentation, the next one
		for _, n := range []int{line, line + 1} {
			if i := bytes.IndexByte(text(n), '\t'); i >= 0 {
				line, col = n, i+1
				break
			}
		}
		msg = "a tab character; YAML indentation must use spaces"
	case strings.HasSuffix(msg, "',' or '}'"), strings.HasSuffix(msg, "',' or ']'"):
		open, what := byte('{'), "{...} mapping"
		if strings.HasSuffix(msg, "']'") {
			open, what = '[', "[...] list"
		}
		if i := bytes.IndexByte(l, open); i >= 0 {
			col = i + 1
		}
		msg = fmt.Sprintf("this %s is not closed, or a comma is missing between its entries", what)
	case msg == "mapping values are not allowed in this context":
		msg = "unexpected ':' here; check the indentation, or quote a value that contains \": \""
	case msg == "did not find expected key":
		msg = "expected a key here; check the indentation"
	case msg == "did not find expected '-' indicator":
		msg = "expected a list item (- ...) here; check the indentation"
	}
	return diag.Errorf(diag.Pos{File: file, Line: line, Col: col}, RuleSyntax, "%s", msg)
}

func (d *Doc) pos(n *yaml.Node) diag.Pos { return diag.Pos{File: d.File, Line: n.Line, Col: n.Column} }

// index returns every value node under its path ("schema.fields[2].number") and every key under
// its value's path plus "#key". Only the rare diagnostics that search the whole document build it.
func (d *Doc) index() map[string]*yaml.Node {
	root := d.tree()
	if d.idx == nil {
		d.idx = map[string]*yaml.Node{}
		if root != nil {
			indexNode(d.idx, root, "")
		}
	}
	return d.idx
}

func indexNode(idx map[string]*yaml.Node, n *yaml.Node, path string) {
	idx[path] = n
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := k
			if path != "" {
				p = path + "." + k
			}
			idx[p+"#key"] = n.Content[i]
			indexNode(idx, n.Content[i+1], p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			indexNode(idx, c, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// lookup returns the node index() would hold under target, without building it: the same
// depth-first walk, pruned to the nodes whose path is a prefix of target, and the last node
// found wins as in the map (keys may contain "." or "[", so two nodes can share a path).
func (d *Doc) lookup(target string) *yaml.Node {
	root := d.tree()
	if root == nil {
		return nil
	}
	var found *yaml.Node
	lookupNode(root, "", target, &found)
	return found
}

func lookupNode(n *yaml.Node, path, target string, found **yaml.Node) {
	if path == target {
		*found = n
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			// the child's path is k or path+"."+k; skip it unless target starts with it
			p := k
			if path != "" {
				if len(target) < len(path)+1+len(k) || target[len(path)] != '.' || target[len(path)+1:len(path)+1+len(k)] != k {
					continue
				}
				p = target[:len(path)+1+len(k)]
			} else if !strings.HasPrefix(target, k) {
				continue
			}
			if len(target) == len(p)+4 && target[len(p):] == "#key" {
				*found = n.Content[i]
			}
			lookupNode(n.Content[i+1], p, target, found)
		}
	case yaml.SequenceNode:
		// only the child whose "[i]" follows path in target
		rest := target[len(path):]
		if len(rest) < 3 || rest[0] != '[' {
			return
		}
		end := strings.IndexByte(rest, ']')
		if end < 2 {
			return
		}
		i, err := strconv.Atoi(rest[1:end])
		if err != nil || i < 0 || i >= len(n.Content) || strconv.Itoa(i) != rest[1:end] {
			return
		}
		lookupNode(n.Content[i], target[:len(path)+end+1], target, found)
	}
}

// duplicates reports keys written twice in one mapping and drops the later ones from the tree,
// so the rest of the document still decodes (yaml.v3 refuses a mapping with a duplicate key
// outright, which would turn one typo into a dozen "missing" findings).
func (d *Doc) duplicates(n *yaml.Node) diag.List {
	var out diag.List
	if n.Kind == yaml.MappingNode {
		// The key an earlier one repeats is the last kept key of that value (any kind); most
		// mappings are small, so they are searched without a map.
		var seen map[string]*yaml.Node
		if len(n.Content) > 2*smallMapping {
			seen = make(map[string]*yaml.Node, len(n.Content)/2)
		}
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			var first *yaml.Node
			if seen != nil {
				first = seen[k.Value]
			} else {
				for j := len(kept) - 2; j >= 0; j -= 2 {
					if kept[j].Value == k.Value {
						first = kept[j]
						break
					}
				}
			}
			if first != nil && k.Kind == yaml.ScalarNode {
				out.Add(diag.Errorf(d.pos(k), RuleDuplicate, "key %q is already defined at line %d", k.Value, first.Line))
				continue
			}
			if seen != nil {
				seen[k.Value] = k
			}
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
		if len(n.Content)%2 == 1 { // not produced by the parser; kept as is
			kept = append(kept, n.Content[len(n.Content)-1])
		}
		n.Content = kept
	}
	for _, c := range n.Content {
		out.Add(d.duplicates(c)...)
	}
	return out
}

// smallMapping is how many keys a mapping may have for duplicates to search it without a map.
const smallMapping = 16

// Pos returns the position of the value at path, or of its nearest ancestor that exists, so a
// missing key is reported where it should have been written.
func (d *Doc) Pos(path string) diag.Pos {
	for {
		if n := d.lookup(path); n != nil {
			return d.pos(n)
		}
		if path == "" {
			return diag.Pos{File: d.File, Line: 1, Col: 1}
		}
		path = parent(path)
	}
}

// KeyPos returns the position of the key of the value at path (falls back like Pos).
func (d *Doc) KeyPos(path string) diag.Pos {
	if n := d.lookup(path + "#key"); n != nil {
		return d.pos(n)
	}
	return d.Pos(path)
}

// Has reports whether a value was written at path.
func (d *Doc) Has(path string) bool { return d.lookup(path) != nil }

// Node returns the node at path, or nil.
func (d *Doc) Node(path string) *yaml.Node { return d.lookup(path) }

func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// Decode decodes the document into v (a pointer to a struct) and reports keys that v has no place
// for and values of the wrong type, with positions. Decoding continues past problems, so v holds
// everything that could be read.
func (d *Doc) Decode(v any) diag.List {
	var out diag.List
	if d.Root == nil {
		return out
	}
	if d.Root.Kind != yaml.MappingNode {
		out.Add(diag.Errorf(d.pos(d.Root), RuleType, "expected a mapping at the top of the file"))
		return out
	}
	d.unknownKeys(d.Root, reflect.TypeOf(v), &out)
	if err := d.Root.Decode(v); err != nil {
		if te, ok := err.(*yaml.TypeError); ok {
			for _, e := range te.Errors {
				out.Add(d.typeDiag(e))
			}
		} else {
			out.Add(diag.Errorf(d.pos(d.Root), RuleType, "%v", err))
		}
	}
	return out
}

var (
	typeErrRE       = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) `(.*)` into (.*)$")
	collectionErrRE = regexp.MustCompile(`^line (\d+): cannot unmarshal !!(seq|map) into (.*)$`)
)

func (d *Doc) typeDiag(e string) diag.Diagnostic {
	if m := collectionErrRE.FindStringSubmatch(e); m != nil {
		return d.collectionDiag(m[1], m[2], m[3])
	}
	m := typeErrRE.FindStringSubmatch(e)
	if m == nil {
		line := 1
		if lm := lineRE.FindStringSubmatch(e); lm != nil {
			line, _ = strconv.Atoi(lm[1])
		}
		msg := e
		if i := strings.Index(e, ": "); i >= 0 {
			msg = e[i+2:]
		}
		return diag.Errorf(diag.Pos{File: d.File, Line: line, Col: 1}, RuleType, "%s", msg)
	}
	line, _ := strconv.Atoi(m[1])
	pos := diag.Pos{File: d.File, Line: line, Col: 1}
	// Find the offending scalar on that line for the column.
	idx := d.index()
	keys := make([]string, 0, len(idx))
	for k := range idx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n := idx[k]
		if n.Line == line && strings.HasPrefix(n.Value, strings.TrimSuffix(m[3], "...")) && !strings.HasSuffix(k, "#key") {
			pos.Col = n.Column
			break
		}
	}
	return diag.Errorf(pos, RuleType, "%q is %s; expected %s", m[3], tagName(m[2]), goTypeName(m[4]))
}

func tagName(tag string) string {
	switch tag {
	case "str":
		return "text"
	case "int":
		return "a whole number"
	case "float":
		return "a number"
	case "bool":
		return "true or false"
	case "null":
		return "empty"
	case "timestamp":
		return "a date"
	}
	return "a " + tag
}

// collectionDiag reports a list or mapping written where a single value (or the other kind of
// collection) belongs, at the first such collection on that line.
func (d *Doc) collectionDiag(lineText, tag, into string) diag.Diagnostic {
	line, _ := strconv.Atoi(lineText)
	kind, what := yaml.SequenceNode, "a list"
	if tag == "map" {
		kind, what = yaml.MappingNode, "a mapping"
	}
	pos := diag.Pos{File: d.File, Line: line, Col: 0}
	for k, n := range d.index() {
		if n.Line == line && n.Kind == kind && !strings.HasSuffix(k, "#key") && (pos.Col == 0 || n.Column < pos.Col) {
			pos.Col = n.Column
		}
	}
	pos.Col = max(pos.Col, 1)
	return diag.Errorf(pos, RuleType, "%s is written here, expected %s", what, goTypeName(into))
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map"):
		return "a mapping"
	}
	if i := strings.LastIndex(t, "."); i >= 0 {
		t = t[i+1:]
	}
	if t != "" && t[0] >= 'A' && t[0] <= 'Z' { // a struct: contract.Field, contract.KafkaSink, ...
		return "a mapping"
	}
	return "a " + strings.ToLower(t)
}

// keyWalk is one Decode's walk for unknownKeys. What it needs of a Go type (its yaml keys, whether
// it decodes itself) is worked out once per type and walk: a contract repeats a few types (a
// field, a sink) many times, and rebuilding a struct's key map at every node was a third of
// Decode.
type keyWalk struct {
	d     *Doc
	out   *diag.List
	types map[reflect.Type]*typeKeys
}

// typeKeys is what unknownKeys needs of a type (pointers already removed).
type typeKeys struct {
	kind   reflect.Kind
	isInt  bool // an integer: checked by checkInt
	custom bool // decodes itself (yaml.Unmarshaler): its keys are its own business
	ints   bool // a custom type that holds integers (IntHolder)
	fields map[string]reflect.Type
	open   bool // an inline map takes any key: extra keys are allowed there
	elem   reflect.Type
}

func (w *keyWalk) keys(t reflect.Type) *typeKeys {
	if k, ok := w.types[t]; ok {
		return k
	}
	k := &typeKeys{kind: t.Kind(), isInt: isIntKind(t.Kind())}
	w.types[t] = k
	if k.isInt {
		return k
	}
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		k.custom = true
		k.ints = t.Implements(intHolderType) || reflect.PointerTo(t).Implements(intHolderType)
		return k
	}
	switch t.Kind() {
	case reflect.Struct:
		k.fields = map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if strings.Contains(opts, "inline") {
				k.open = k.open || f.Type.Kind() == reflect.Map
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			k.fields[name] = f.Type
		}
	case reflect.Slice:
		k.elem = t.Elem()
	}
	return k
}

// unknownKeys reports mapping keys that the struct type t has no yaml-tagged field for, and
// integers that are not whole or do not fit (ints.go).
func (d *Doc) unknownKeys(n *yaml.Node, t reflect.Type, out *diag.List) {
	w := &keyWalk{d: d, out: out, types: map[reflect.Type]*typeKeys{}}
	w.walk(n, t)
}

func (w *keyWalk) walk(n *yaml.Node, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	k := w.keys(t)
	switch {
	case k.isInt:
		w.d.checkInt(n, w.out)
	case k.custom:
		if k.ints {
			w.d.checkIntsIn(n, w.out)
		}
	case k.kind == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := k.fields[key]
			if !ok && k.open {
				continue
			}
			if !ok {
				w.out.Add(diag.Errorf(w.d.pos(n.Content[i]), RuleUnknownKey, "unknown key %q%s", key, suggest(key, k.fields)))
				continue
			}
			w.walk(n.Content[i+1], ft)
		}
	case k.kind == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for _, c := range n.Content {
			w.walk(c, k.elem)
		}
	}
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

func suggest(k string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for f := range fields {
		if dd := EditDistance(k, f); dd < bestD || (dd == bestD && f < best) {
			best, bestD = f, dd
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// EditDistance is the Levenshtein distance of a and b, for "did you mean" suggestions.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
