package lint

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/contracts/protogen"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// Rule IDs of rules on compiled contracts.
const (
	RuleExample  = "EXAMPLE"
	RuleGenStale = "GEN_STALE"
)

func checkCompiled(ws *workspace.Workspace, res *compile.Result) diag.List {
	var out diag.List
	out.Add(checkConsumersCompiled(ws, res)...)
	for _, ev := range ws.Events {
		md, ok := res.Messages[ev.ID()]
		if !ok {
			continue
		}
		out.Add(checkSinkFields(ev, md)...)
		out.Add(checkCounterKey(ev, md)...)
		out.Add(checkCounterWhere(ev, md)...)
		out.Add(checkCounterSum(ev, md)...)
		for i := range ev.Examples {
			at := fmt.Sprintf("examples[%d]", i)
			field, msg := ConvertExample(md, &ev.Examples[i])
			if msg == "" {
				continue
			}
			pos := ev.Pos(at)
			if field != "" && ev.Doc != nil && ev.Doc.Has(at+"."+field) {
				pos = ev.KeyPos(at + "." + field)
			}
			out.Add(diag.Errorf(pos, RuleExample, "example %d does not match the contract: %s", i+1, msg))
		}
	}
	return out
}

var (
	// protobuf-go writes "proto:" followed by a space or a no-break space, at random, so that
	// nobody matches its messages exactly; evctl only trims them.
	protoPrefix = regexp.MustCompile(`^proto:[\s\x{00a0}]*(\(line \d+:\d+\):[\s\x{00a0}]*)?`)
	fieldInErr  = regexp.MustCompile(`field "?([A-Za-z0-9_.]+)"?`)
)

// ConvertExample converts one example with protojson and checks required fields. It returns the
// offending field as written in the YAML (a top-level field name, when known) and a message, or
// "", "" when the example is valid.
func ConvertExample(md protoreflect.MessageDescriptor, ex interface{ JSON() ([]byte, error) }) (field, msg string) {
	js, err := ex.JSON()
	if err != nil {
		return "", err.Error()
	}
	if len(js) == 0 || js[0] != '{' {
		return "", "an example is a mapping of field names to values"
	}
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal(js, m); err != nil {
		text := protoPrefix.ReplaceAllString(err.Error(), "")
		if sm := fieldInErr.FindStringSubmatch(text); sm != nil {
			f := sm[1]
			if i := strings.LastIndex(f, "."); i >= 0 && strings.HasPrefix(f, string(md.FullName())) {
				f = f[i+1:]
			}
			// protojson names fields by their JSON name (watchMs); the YAML says watch_ms.
			if fd := md.Fields().ByJSONName(f); fd != nil && string(fd.Name()) != f {
				text = strings.Replace(text, "field "+f, "field "+string(fd.Name()), 1)
				f = string(fd.Name())
			}
			field = f
		}
		return field, text
	}
	if p := evoptions.MissingRequired(m); p != "" {
		top, _, _ := strings.Cut(p, ".")
		if i := strings.IndexByte(top, '['); i >= 0 {
			top = top[:i]
		}
		if top == p {
			top = "" // a missing field has no position of its own: report the example
		}
		return top, fmt.Sprintf("required field %s is missing", p)
	}
	return "", ""
}

// GenFiles returns every file `evctl generate` writes, keyed by path under gen/proto: each
// effective contract, the repository protos they import, and evctl's embedded protos, so that
// gen/proto compiles on its own for consumers that pull it from git.
func GenFiles(res *compile.Result, outs []*protogen.Output) map[string][]byte {
	files := map[string][]byte{}
	for _, o := range outs {
		if _, ok := res.Files[o.Event]; ok {
			files[o.Path] = o.Source
		}
	}
	var visit func(f protoreflect.FileDescriptor)
	seen := map[string]bool{}
	visit = func(f protoreflect.FileDescriptor) {
		imps := f.Imports()
		for i := 0; i < imps.Len(); i++ {
			dep := imps.Get(i).FileDescriptor
			p := dep.Path()
			// Well-known types ship with every protobuf toolchain and protovalidate's rules with
			// its module (buf.build/bufbuild/protovalidate); gen/ carries everything else.
			if seen[p] || strings.HasPrefix(p, "google/protobuf/") || p == evoptions.ValidateFile {
				continue
			}
			seen[p] = true
			if _, ok := files[p]; !ok {
				if src, ok := evoptions.Source(p); ok {
					files[p] = src
				} else if src, err := readRepoProto(res, p); err == nil {
					files[p] = src
				}
			}
			visit(dep)
		}
	}
	ids := make([]string, 0, len(res.Files))
	for id := range res.Files {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		visit(res.Files[id])
	}
	return files
}

func readRepoProto(res *compile.Result, p string) ([]byte, error) {
	return contract.ReadInside(res.Root, filepath.Join(res.Root, "contracts", filepath.FromSlash(p)))
}

// checkGenFresh compares gen/proto on disk with what generate would write.
func checkGenFresh(ws *workspace.Workspace, res *compile.Result, outs []*protogen.Output) diag.List {
	var out diag.List
	want := GenFiles(res, outs)
	have := map[string]bool{}
	base := filepath.Join(ws.Root(), filepath.FromSlash(workspace.GenDir))
	_ = filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".proto") {
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		have[filepath.ToSlash(rel)] = true
		return nil
	})
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		gp := workspace.GenDir + "/" + p
		got, err := os.ReadFile(filepath.Join(base, filepath.FromSlash(p)))
		switch {
		case err != nil:
			out.Add(diag.Errorf(diag.Pos{File: gp, Line: 1, Col: 1}, RuleGenStale, "%s is missing; run `evctl generate` and commit gen/", gp))
		case !bytes.Equal(got, want[p]):
			out.Add(diag.Errorf(diag.Pos{File: gp, Line: firstDiff(got, want[p]), Col: 1}, RuleGenStale, "%s is out of date with its contract; run `evctl generate` and commit gen/", gp))
		}
	}
	for p := range have {
		if _, ok := want[p]; !ok {
			gp := workspace.GenDir + "/" + p
			out.Add(diag.Errorf(diag.Pos{File: gp, Line: 1, Col: 1}, RuleGenStale, "%s has no contract any more; run `evctl generate` to remove it", gp))
		}
	}
	return out
}

func firstDiff(a, b []byte) int {
	line := 1
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return line
		}
		if a[i] == '\n' {
			line++
		}
	}
	return line
}
