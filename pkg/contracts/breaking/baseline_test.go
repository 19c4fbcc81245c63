package breaking

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/lint"
)

func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// gitRepo makes a git repository whose contracts live in a subfolder (so the prefix logic is
// exercised) and returns the top and the contracts root.
func gitRepo(t testing.TB) (top, root string) {
	top = t.TempDir()
	root = filepath.Join(top, "events")
	runGit(t, top, "init", "-q", "-b", "main")
	return top, root
}

func commitAll(t testing.TB, top, msg string) {
	runGit(t, top, "add", "-A")
	runGit(t, top, "commit", "-q", "-m", msg)
}

func TestGitBaselineEndToEnd(t *testing.T) {
	bin := bufBin(t)
	ctx := context.Background()
	top, root := gitRepo(t)
	writeRepo(t, top, map[string]string{"README.md": "before evctl\n", "evctl.yaml": "not yet\n"})
	os.Remove(filepath.Join(top, "evctl.yaml"))
	commitAll(t, top, "before evctl")
	other := ev("prod", 1, baseFields, "")
	writeRepo(t, root, map[string]string{
		"contracts/d/e.yaml":     ev("prod", 1, baseFields, ""),
		"contracts/d/other.yaml": strings.Replace(other, "name: e\n", "name: other\n", 1),
	})
	commitAll(t, top, "contracts")
	writeRepo(t, root, map[string]string{"contracts/d/e.yaml": ev("prod", 1, with(1, `{name: b, type: string, number: 2}`), "")})
	commitAll(t, top, "break b")
	// An uncommitted edit: the check reads the work tree for the current side, and git objects
	// only for the baseline; the work tree must come out untouched.
	edited := with(1, `{name: b, type: string, number: 2}`)
	edited[0] = `{name: a, type: bytes, number: 1}`
	writeRepo(t, root, map[string]string{"contracts/d/e.yaml": ev("prod", 1, edited, "")})
	statusBefore := runGit(t, top, "status", "--porcelain")

	base, err := FromGit(ctx, root, "HEAD~1")
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	rep, err := Check(ctx, Current{Workspace: openWS(t, root)}, base, Options{Buf: bin, Today: testToday})
	if err != nil {
		t.Fatal(err)
	}
	failing, _, _ := verdict(rep)
	if !slices.Equal(failing, []string{tyChange}) || rep.Summary().Checked != 1 || rep.Summary().Events != 2 || rep.Summary().Breaking != 2 {
		t.Fatalf("got %v %+v\n%s", failing, rep.Summary(), dump(rep))
	}
	fs := rep.Findings()
	if len(fs) != 2 || fs[0].Field != "a" || fs[1].Field != "b" || fs[0].File != "contracts/d/e.yaml" || fs[0].Line != 9 {
		t.Fatalf("findings %+v", fs)
	}
	if e := rep.Event("d/other"); e == nil || e.Status != StatusUnchanged {
		t.Fatalf("other event: %+v", e)
	}
	if got := runGit(t, top, "status", "--porcelain"); got != statusBefore {
		t.Fatalf("work tree changed:\n%s\nwas:\n%s", got, statusBefore)
	}

	// HEAD: the committed break of b is in the baseline, so only the edit of a shows.
	head, err := FromGit(ctx, root, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	defer head.Close()
	rep, err = Check(ctx, Current{Workspace: openWS(t, root)}, head, Options{Buf: bin, Today: testToday})
	if err != nil {
		t.Fatal(err)
	}
	if fs := rep.Findings(); len(fs) != 1 || fs[0].Field != "a" {
		t.Fatalf("against HEAD: %s", dump(rep))
	}

	// Before evctl existed: an empty baseline, every event new.
	first, err := FromGit(ctx, root, "HEAD~2")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	rep, err = Check(ctx, Current{Workspace: openWS(t, root)}, first, Options{Buf: bin})
	if err != nil || rep.Failed() || rep.Event("d/e").Status != StatusNew {
		t.Fatalf("against the first commit: %v\n%s", err, dump(rep))
	}

	if _, err := FromGit(ctx, root, "no-such-branch"); err == nil || !strings.Contains(err.Error(), "no-such-branch") {
		t.Fatalf("unknown ref: %v", err)
	}
	if _, err := FromGit(ctx, t.TempDir(), "HEAD"); err == nil {
		t.Fatal("a folder outside git must be an error")
	}
}

// buildSet compiles a repository the way `evctl build` does.
func buildSet(t testing.TB, dir string) []byte {
	t.Helper()
	rep := lint.Check(context.Background(), openWS(t, dir), lint.Options{SkipGenFresh: true})
	b, err := compile.Marshal(compile.FileSet(rep.Compiled, nil))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFileBaseline(t *testing.T) {
	bin := bufBin(t)
	ctx := context.Background()
	bdir, cdir := t.TempDir(), t.TempDir()
	writeRepo(t, bdir, prodEv(baseFields, ""))
	writeRepo(t, cdir, prodEv(with(4, `{name: dev, type: record, number: 5, fields: [{name: model, type: string, number: 1}]}`), ""))
	path := filepath.Join(t.TempDir(), "base.binpb")
	if err := os.WriteFile(path, buildSet(t, bdir), 0o644); err != nil {
		t.Fatal(err)
	}
	base, err := FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The current side reuses descriptors compiled by lint, as plan does.
	ws := openWS(t, cdir)
	lr := lint.Check(ctx, ws, lint.Options{SkipGenFresh: true})
	rep, err := Check(ctx, Current{Workspace: ws, Compiled: lr.Compiled}, base, Options{Buf: bin})
	if err != nil {
		t.Fatal(err)
	}
	failing, _, _ := verdict(rep)
	if !slices.Equal(failing, []string{delName, delNum}) || rep.Findings()[0].Field != "dev.os" {
		t.Fatalf("got %v\n%s", failing, dump(rep))
	}
	if _, err := FromFile(filepath.Join(t.TempDir(), "missing.binpb")); err == nil {
		t.Fatal("a missing file must be an error")
	}
	if _, err := FromDescriptorSet("junk", []byte("not a descriptor set")); err == nil {
		t.Fatal("junk must be an error")
	}
}

func TestEnvBaseline(t *testing.T) {
	bin := bufBin(t)
	ctx := context.Background()
	bdir, cdir := t.TempDir(), t.TempDir()
	writeRepo(t, bdir, prodEv(baseFields, ""))
	set := buildSet(t, bdir)
	sum := compile.SHA256(set)
	// The descriptor store of env local is file://descriptors, relative to the repository root.
	store := filepath.Join(cdir, "descriptors")
	writeRepo(t, store, map[string]string{
		"sets/" + sum + ".binpb": string(set),
		"index.json":             fmt.Sprintf(`{"events":{"d/e":{"message":"events.d.v1.E","topic":"local.d.e.v1","sha256":%q,"stage":"prod"}}}`, sum),
		"evctl.yaml":             "",
	})
	os.Remove(filepath.Join(store, "evctl.yaml"))

	cases := []struct {
		name string
		cur  string
		want []string
	}{
		{"type change", ev("prod", 1, with(1, `{name: b, type: string, number: 2}`), ""), []string{tyChange}},
		{"unchanged", ev("prod", 1, baseFields, ""), nil},
		{"major bump", ev("prod", 2, with(1, `{name: b, type: string, number: 2}`), ""), nil},
		{"staging field edit", ev("prod", 1, without(6), ""), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			writeRepo(t, cdir, map[string]string{"contracts/d/e.yaml": tc.cur})
			ws := openWS(t, cdir)
			base, err := FromEnv(ctx, ws.Project, "local")
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Check(ctx, Current{Workspace: ws}, base, Options{Buf: bin})
			if err != nil {
				t.Fatal(err)
			}
			if failing, _, _ := verdict(rep); !slices.Equal(failing, tc.want) {
				t.Fatalf("got %v want %v\n%s", failing, tc.want, dump(rep))
			}
		})
	}

	// A store nothing was published to yet: every event is new.
	os.RemoveAll(store)
	ws := openWS(t, cdir)
	base, err := FromEnv(ctx, ws.Project, "local")
	if err != nil {
		t.Fatal(err)
	}
	if len(base.Events()) != 0 {
		t.Fatalf("empty store has events %v", base.Events())
	}
	if _, err := FromEnv(ctx, ws.Project, "nope"); err == nil {
		t.Fatal("unknown environment must be an error")
	}
}

func TestBufMissingFailsClosed(t *testing.T) {
	ctx := context.Background()
	bdir, cdir := t.TempDir(), t.TempDir()
	writeRepo(t, bdir, map[string]string{
		"contracts/d/e.yaml":     ev("prod", 1, baseFields, ""),
		"contracts/d/other.yaml": strings.Replace(ev("prod", 1, baseFields, ""), "name: e\n", "name: other\n", 1),
	})
	writeRepo(t, cdir, map[string]string{
		"contracts/d/e.yaml":     ev("prod", 1, with(0, `{name: a, type: string, number: 1, description: doc}`), ""),
		"contracts/d/other.yaml": strings.Replace(ev("prod", 1, plus(`{name: n, type: string, number: 8}`), ""), "name: e\n", "name: other\n", 1),
	})
	base := FromWorkspace("baseline", openWS(t, bdir), nil)
	getenv := func(k string) string {
		if k == "EVCTL_BUF" {
			return filepath.Join(t.TempDir(), "no-buf-here")
		}
		return ""
	}
	rep, err := Check(ctx, Current{Workspace: openWS(t, cdir)}, base, Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if rep.BufMissing != InstallCommand {
		t.Fatalf("BufMissing = %q", rep.BufMissing)
	}
	// d/e changed only in a comment: nothing to check, not blocked. d/other changed: blocked.
	if blocked, _ := rep.Blocked("d/e"); blocked {
		t.Fatalf("comment-only change blocked:\n%s", dump(rep))
	}
	blocked, fs := rep.Blocked("d/other")
	if !blocked || len(fs) != 1 || fs[0].Rule != RuleBufMissing || !strings.Contains(fs[0].Message, InstallCommand) {
		t.Fatalf("changed prod event not blocked with the install command:\n%s", dump(rep))
	}
	if _, err := FindBuf(getenv); err == nil || !strings.Contains(err.Error(), InstallCommand) {
		t.Fatalf("FindBuf: %v", err)
	}
}

func TestContractInvalidFailsClosed(t *testing.T) {
	bdir, cdir := t.TempDir(), t.TempDir()
	writeRepo(t, bdir, prodEv(baseFields, ""))
	// Two fields with one number: the contract does not compile, so it cannot be checked.
	writeRepo(t, cdir, prodEv(plus(`{name: dup, type: string, number: 2}`), ""))
	base := FromWorkspace("baseline", openWS(t, bdir), nil)
	rep, err := Check(context.Background(), Current{Workspace: openWS(t, cdir)}, base, Options{Buf: bufBin(t)})
	if err != nil {
		t.Fatal(err)
	}
	if failing, _, _ := verdict(rep); !slices.Equal(failing, []string{RuleContractInvalid}) {
		t.Fatalf("got %v\n%s", failing, dump(rep))
	}
	if by := rep.FailingByEvent(); len(by) != 1 || len(by["d/e"]) == 0 {
		t.Fatalf("FailingByEvent %v", by)
	}
}

func TestGitScope(t *testing.T) {
	bin := bufBin(t)
	ctx := context.Background()
	top, root := gitRepo(t)
	raw := strings.Replace(rawEv("prod"), "name: e\n", "name: r\n", 1)
	raw = strings.Replace(raw, "file: e.proto", "file: r.proto", 1)
	writeRepo(t, root, map[string]string{
		"contracts/d/e.yaml":           ev("prod", 1, baseFields, ""),
		"contracts/d/r.yaml":           raw,
		"contracts/d/r.proto":          sharedRaw,
		"contracts/common/money.proto": sharedBase,
	})
	commitAll(t, top, "base")

	open := func(t *testing.T) (*Baseline, *Report) {
		t.Helper()
		base, err := FromGit(ctx, root, "HEAD")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { base.Close() })
		ws, err := LoadWorkspace(filepath.Join(root, "evctl.yaml"), "", base.Scope())
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Check(ctx, Current{Workspace: ws}, base, Options{Buf: bin})
		if err != nil {
			t.Fatal(err)
		}
		return base, rep
	}

	t.Run("nothing changed", func(t *testing.T) {
		base, rep := open(t)
		if s := base.Scope(); s == nil || len(s) != 0 || len(rep.Events) != 0 {
			t.Fatalf("scope %v\n%s", s, dump(rep))
		}
	})
	t.Run("shared proto changed, no YAML did", func(t *testing.T) {
		writeRepo(t, root, map[string]string{"contracts/common/money.proto": strings.Replace(sharedBase, "int64 units", "string units", 1)})
		defer runGit(t, top, "checkout", "--", ".")
		base, rep := open(t)
		if want := []string{"contracts/common/money.proto", "contracts/d/r.yaml"}; !slices.Equal(base.Scope(), want) {
			t.Fatalf("scope %v, want %v", base.Scope(), want)
		}
		if failing, _, _ := verdict(rep); !slices.Equal(failing, []string{tyChange}) || rep.Event("d/r") == nil {
			t.Fatalf("got %v\n%s", failing, dump(rep))
		}
	})
	t.Run("untracked new event", func(t *testing.T) {
		writeRepo(t, root, map[string]string{"contracts/d/n.yaml": strings.Replace(ev("prod", 1, baseFields, ""), "name: e\n", "name: n\n", 1)})
		defer os.Remove(filepath.Join(root, "contracts/d/n.yaml"))
		_, rep := open(t)
		if e := rep.Event("d/n"); e == nil || e.Status != StatusNew || len(rep.Events) != 1 {
			t.Fatalf("%s", dump(rep))
		}
	})
	t.Run("evctl.yaml changed: everything", func(t *testing.T) {
		writeRepo(t, root, map[string]string{"evctl.yaml": projectYAML("", "# touched\n")})
		defer runGit(t, top, "checkout", "--", ".")
		base, rep := open(t)
		if base.Scope() != nil || len(rep.Events) != 2 || rep.Failed() {
			t.Fatalf("scope %v\n%s", base.Scope(), dump(rep))
		}
	})
}
