package breaking

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/contracts/protogen"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// event is one event on one side of the comparison.
type event struct {
	id    string
	stage string
	major int    // 0 when the side does not know it (descriptor baselines)
	topic string // from an environment's index.json, else ""
	// key identifies the effective contract before compiling (its source, plus the repository
	// protos it imports); "" when unknown. Equal keys mean equal contracts.
	key string
	ev  *contract.Event  // workspace sides
	out *protogen.Output // workspace sides, when the contract could be generated
	bad diag.List        // why the contract could not be generated or compiled
	// Set once compiled (workspace sides) or loaded (descriptor sides).
	file protoreflect.FileDescriptor
	msg  protoreflect.MessageDescriptor
	// Descriptor sides: the set holding the event, its file's path and its message's full name,
	// to load it (load).
	raw     *rawSet
	path    string
	msgName string
	// sha names the event's set in an environment's store, read when the event is loaded
	// (side.fetch); raw is nil until then.
	sha string
}

// side is every event of one side: a workspace (compiled lazily, only what is needed) or a set
// of descriptors.
type side struct {
	events map[string]*event
	ws     *workspace.Workspace // nil for descriptor sides
	// protos are the file protos descriptor sides were built from, to hash without converting.
	protos map[protoreflect.FileDescriptor]*descriptorpb.FileDescriptorProto
	// fetch reads a set by sha256, for an environment's events (FromEnv); nil otherwise.
	fetch func(sha string) ([]byte, error)
}

// newWorkspaceSide generates the effective contract of every event (cheap: text); compiled, when
// given, supplies descriptors already built so they are not compiled twice.
func newWorkspaceSide(ws *workspace.Workspace, compiled *compile.Result) *side {
	s := &side{events: map[string]*event{}, ws: ws}
	for _, ev := range ws.Events {
		id := ev.ID()
		if _, dup := s.events[id]; dup {
			continue // EVENT_NAME_UNIQUE is lint's; the first file wins here
		}
		e := &event{id: id, stage: ev.Stage, major: ev.Major, ev: ev}
		s.events[id] = e
		if compiled != nil {
			if f, ok := compiled.Files[id]; ok {
				e.out, e.file, e.msg = compiled.Outputs[id], f, compiled.Messages[id]
			}
		}
		if e.out == nil {
			out, ds := ws.Effective(ev)
			if out == nil || ds.HasErrors() {
				e.bad = ds
				continue
			}
			e.out = out
		}
		e.key = sourceKey(ws.Root(), e.out)
	}
	return s
}

var importRE = regexp.MustCompile(`(?m)^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"`)

// sourceKey hashes an effective contract and, on the upload path, every repository .proto it
// imports (transitively), so an edit to a shared proto changes the key of its importers.
func sourceKey(root string, o *protogen.Output) string {
	h := sha256.New()
	h.Write(o.Source)
	if o.RawFile != "" {
		seen := map[string]bool{}
		var visit func(src []byte)
		visit = func(src []byte) {
			for _, m := range importRE.FindAllSubmatch(src, -1) {
				p := string(m[1])
				if seen[p] || strings.HasPrefix(p, "google/protobuf/") {
					continue
				}
				seen[p] = true
				if _, ok := evoptions.Source(p); ok {
					continue
				}
				b, err := os.ReadFile(filepath.Join(root, contract.Dir, filepath.FromSlash(p)))
				h.Write([]byte("\x00" + p + "\x00"))
				if err != nil {
					h.Write([]byte("missing"))
					continue
				}
				h.Write(b)
				visit(b)
			}
		}
		visit(o.Source)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// compile compiles the named events that are not compiled yet, in one compiler run. Events that
// fail keep the compiler's findings in bad.
func (s *side) compile(ctx context.Context, ids []string) {
	if s.ws == nil {
		s.load(ids)
		return
	}
	var outs []*protogen.Output
	for _, id := range ids {
		if e := s.events[id]; e != nil && e.file == nil && e.out != nil && e.bad == nil {
			outs = append(outs, e.out)
		}
	}
	if len(outs) == 0 {
		return
	}
	sort.Slice(outs, func(i, j int) bool { return outs[i].Path < outs[j].Path })
	res, ds := compile.Compile(ctx, s.ws.Root(), outs)
	for _, o := range outs {
		e := s.events[o.Event]
		if f, ok := res.Files[o.Event]; ok {
			e.file, e.msg = f, res.Messages[o.Event]
			continue
		}
		e.bad = diagsFor(ds, e)
	}
}

// diagsFor keeps the findings about one event's files, or all of them when none names it.
func diagsFor(ds diag.List, e *event) diag.List {
	var out diag.List
	for _, d := range ds {
		if d.File == e.ev.File || (e.out != nil && (d.File == e.out.RawFile || strings.HasSuffix(d.File, e.out.Path))) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		out = ds
	}
	if len(out) == 0 {
		out = diag.List{diag.Errorf(e.ev.Pos("schema"), RuleContractInvalid, "the contract did not compile")}
	}
	return out
}

// hasher hashes compiled contracts without source info (comments and positions do not change
// a contract), each together with every file it imports except the well-known types. File
// hashes are memoised: every event imports evctl's options, and a repository has thousands.
type hasher struct {
	files  map[protoreflect.FileDescriptor][]byte
	protos map[protoreflect.FileDescriptor]*descriptorpb.FileDescriptorProto // as loaded, when known
}

func newHasher(sides ...*side) *hasher {
	h := &hasher{files: map[protoreflect.FileDescriptor][]byte{}, protos: map[protoreflect.FileDescriptor]*descriptorpb.FileDescriptorProto{}}
	for _, s := range sides {
		for f, p := range s.protos {
			h.protos[f] = p
		}
	}
	return h
}

// contract hashes an event's file and its imports.
func (h *hasher) contract(f protoreflect.FileDescriptor) string {
	sum := sha256.New()
	for _, fd := range closure([]protoreflect.FileDescriptor{f}) {
		if !strings.HasPrefix(fd.Path(), "google/protobuf/") {
			sum.Write([]byte(fd.Path() + "\x00"))
			sum.Write(h.file(fd))
		}
	}
	return hex.EncodeToString(sum.Sum(nil))
}

func (h *hasher) file(f protoreflect.FileDescriptor) []byte {
	if b, ok := h.files[f]; ok {
		return b
	}
	var fdp *descriptorpb.FileDescriptorProto
	switch {
	case h.protos[f] != nil:
		fdp = h.protos[f]
	default:
		if r, ok := f.(interface {
			FileDescriptorProto() *descriptorpb.FileDescriptorProto
		}); ok { // protocompile's linker results keep the proto they were built from
			fdp = r.FileDescriptorProto()
		} else {
			fdp = protodesc.ToFileDescriptorProto(f)
		}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(withoutSource(fdp))
	sum := sha256.Sum256(b)
	if err != nil {
		sum = sha256.Sum256([]byte(err.Error())) // never equal to a real contract's hash
	}
	h.files[f] = sum[:]
	return sum[:]
}

// withoutSource is a shallow copy of a file proto without its source_code_info; every other
// field (including ones added to descriptor.proto later) is kept, so nothing is missed.
func withoutSource(fdp *descriptorpb.FileDescriptorProto) proto.Message {
	src := fdp.ProtoReflect()
	dst := src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Name() != "source_code_info" {
			dst.Set(fd, v)
		}
		return true
	})
	return dst.Interface()
}

// closure returns the files and everything they import, each after its imports, once.
func closure(files []protoreflect.FileDescriptor) []protoreflect.FileDescriptor {
	var out []protoreflect.FileDescriptor
	seen := map[string]bool{}
	var visit func(f protoreflect.FileDescriptor)
	visit = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imps := f.Imports()
		for i := 0; i < imps.Len(); i++ {
			visit(imps.Get(i).FileDescriptor)
		}
		out = append(out, f)
	}
	for _, f := range files {
		visit(f)
	}
	return out
}
