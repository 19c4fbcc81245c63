package lint_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/codeowners"
	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/protogen"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

const incrToday = "2026-11-23"

// coldCheck is the whole pipeline on a fresh load, as `evctl lint --no-cache` and `evctl build
// --no-cache` run it.
func coldCheck(t *testing.T, dir string) (*lint.Report, *workspace.Workspace, []byte) {
	return coldRun(t, dir, false)
}

func coldRun(t *testing.T, dir string, build bool) (*lint.Report, *workspace.Workspace, []byte) {
	t.Helper()
	ws, err := workspace.Open("", dir)
	if err != nil {
		t.Fatal(err)
	}
	rep := lint.Check(context.Background(), ws, lint.Options{Today: incrToday, ForSet: true, SkipGenFresh: build})
	var set []byte
	if !rep.Diags.HasErrors() {
		if set, _, err = compile.NewSetCache(rep.Compiled).Marshal(nil); err != nil {
			t.Fatal(err)
		}
	}
	return rep, ws, set
}

// regenerate writes gen/proto and .github/CODEOWNERS as `evctl generate` and `evctl
// codeowners` would, from a clean cold check.
func regenerate(t *testing.T, dir string, rep *lint.Report, ws *workspace.Workspace) {
	t.Helper()
	_ = os.RemoveAll(filepath.Join(dir, "gen", "proto"))
	for p, b := range lint.GenFiles(rep.Compiled, rep.Outputs) {
		writeFile(t, filepath.Join(dir, "gen", "proto", p), string(b))
	}
	owners := codeowners.Render(ws.Project, ws.Events, func(ev *contract.Event) string {
		return workspace.GenDir + "/" + protogen.FilePath(ev.Domain, ev.Name)
	})
	writeFile(t, filepath.Join(dir, ".github", "CODEOWNERS"), owners)
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIncrementalMatchesCold applies random edit sequences to a synthetic repository (a field
// added or removed, a description edited, an event added or removed, a shared import changed,
// an owner broken and mended, gen/ and CODEOWNERS regenerated or left stale) and after every
// edit compares the incremental check, its cache kept from edit to edit, with the whole
// pipeline run cold: the same findings, and the same descriptor set byte for byte.
func TestIncrementalMatchesCold(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { incrementalSequence(t, seed, 25) })
	}
}

func incrementalSequence(t *testing.T, seed uint64, steps int) {
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := synth.Generate(ctx, dir, synth.Options{N: 40, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	// A shared import (contracts/common/money.proto) used by one raw contract, and a consumer.
	writeFile(t, filepath.Join(dir, "contracts", "common", "money.proto"),
		"syntax = \"proto3\";\n\npackage shared.v1;\n\n// An amount of money.\nmessage Money {\n  string currency = 1;\n  int64 units = 2;\n}\n")
	raws, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.proto"))
	sort.Strings(raws)
	var importer string
	for _, r := range raws {
		if !strings.Contains(r, "/common/") {
			importer = r
			break
		}
	}
	src := readFile(t, importer)
	src = strings.Replace(src, "import \"google/protobuf/timestamp.proto\";", "import \"google/protobuf/timestamp.proto\";\nimport \"common/money.proto\";", 1)
	src = regexp.MustCompile(`(?m)^(message \w+ \{\n)`).ReplaceAllString(src, "${1}  shared.v1.Money total = 900;\n")
	writeFile(t, importer, src)
	yamls, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.yaml"))
	sort.Strings(yamls)
	listed := strings.TrimSuffix(strings.TrimPrefix(yamls[1], filepath.Join(dir, "contracts")+"/"), ".yaml")
	writeFile(t, filepath.Join(dir, "consumers", "crm.yaml"), "name: crm\nowner: {team: growth}\nevents: ["+listed+"]\n"+
		"transform: |\n  {\"id\": {{json .event_id}}}\ndeliver:\n  http: {url_env: CRM_URL}\n")
	rep, ws, _ := coldCheck(t, dir)
	regenerate(t, dir, rep, ws)
	if rep, _, _ := coldCheck(t, dir); len(rep.Diags) > 0 {
		t.Fatalf("the starting repository has findings: %v", rep.Diags)
	}

	rng := rand.New(rand.NewPCG(seed, 99))
	pick := func(glob string) string {
		m, _ := filepath.Glob(filepath.Join(dir, glob))
		sort.Strings(m)
		if len(m) == 0 {
			return ""
		}
		return m[rng.IntN(len(m))]
	}
	formEvent := func() string {
		for range 50 {
			p := pick("contracts/*/*.yaml")
			if p != "" && strings.Contains(readFile(t, p), "  fields:\n") {
				return p
			}
		}
		return ""
	}
	incremental, partial, withFindings, sets := 0, 0, 0, 0
	// Edits that break a contract are undone at the next step (before its own edit), so that the
	// repository is clean often enough for gen/ and CODEOWNERS to be checked too.
	var undo func()
	keep := func(p string) {
		old, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		undo = func() { writeFile(t, p, string(old)) }
	}
	for step := 0; step < steps; step++ {
		if undo != nil {
			undo()
			undo = nil
		}
		var what string
		switch k := rng.IntN(11); k {
		case 0, 1:
			p := formEvent()
			what = "add a field to " + p
			s := readFile(t, p)
			writeFile(t, p, strings.Replace(s, "  fields:\n", fmt.Sprintf("  fields:\n    - {name: extra_%d, type: string, number: %d}\n", step, 700+step), 1))
		case 2:
			p := formEvent()
			what = "remove a field from " + p
			keep(p)
			lines := strings.Split(readFile(t, p), "\n")
			for i, l := range lines {
				if strings.HasPrefix(l, "    - {name: ") && i > 0 && rng.IntN(3) == 0 {
					lines = append(lines[:i], lines[i+1:]...)
					break
				}
			}
			writeFile(t, p, strings.Join(lines, "\n"))
		case 3:
			p := pick("contracts/*/*.yaml")
			what = "edit the description of " + p
			s := readFile(t, p)
			writeFile(t, p, regexp.MustCompile(`(?m)^description: .*$`).ReplaceAllString(s, fmt.Sprintf("description: \"Edited at step %d.\"", step)))
		case 4:
			p := formEvent()
			what = "copy " + p + " to a new event"
			s := readFile(t, p)
			name := strings.TrimSuffix(filepath.Base(p), ".yaml")
			nn := fmt.Sprintf("%s_copy%d", name, step)
			writeFile(t, filepath.Join(filepath.Dir(p), nn+".yaml"), strings.Replace(s, "name: "+name, "name: "+nn, 1))
		case 5:
			p := pick("contracts/*/*.yaml")
			what = "remove " + p
			if strings.HasSuffix(p, strings.TrimSuffix(filepath.Base(yamls[1]), "")) {
				break // the consumer's event stays
			}
			_ = os.Remove(p)
			_ = os.Remove(strings.TrimSuffix(p, ".yaml") + ".proto")
		case 6:
			what = "change the shared import"
			p := filepath.Join(dir, "contracts", "common", "money.proto")
			s := readFile(t, p)
			writeFile(t, p, strings.Replace(s, "}\n", fmt.Sprintf("  string note_%d = %d;\n}\n", step, 10+step), 1))
		case 7:
			p := pick("contracts/*/*.yaml")
			what = "break the owner of " + p
			keep(p)
			writeFile(t, p, regexp.MustCompile(`team: \w+`).ReplaceAllString(readFile(t, p), "team: nobody"))
		case 8:
			p := formEvent()
			name := strings.TrimSuffix(filepath.Base(p), ".yaml")
			other := filepath.Join(dir, "contracts", "zz_dup", name+".yaml")
			what = "copy " + p + " to another domain under the same name"
			writeFile(t, other, readFile(t, p))
			undo = func() { _ = os.RemoveAll(filepath.Dir(other)) }
		default:
			what = "regenerate gen/ and CODEOWNERS"
			if rep, ws, _ := coldCheck(t, dir); !rep.Diags.HasErrors() {
				regenerate(t, dir, rep, ws)
			}
		}
		for _, build := range []bool{false, true} {
			cold, _, coldSet := coldRun(t, dir, build)
			inc, err := lint.CheckIncremental(ctx, "", dir, lint.IncrOptions{Today: incrToday, SkipGenFresh: build})
			if err != nil {
				t.Fatalf("step %d (%s, build %v): %v", step, what, build, err)
			}
			if !build && inc.Fallback == "" {
				incremental++
				if inc.Checked < inc.Events {
					partial++
				}
			}
			if !reflect.DeepEqual(cold.Diags, inc.Diags) && !(len(cold.Diags) == 0 && len(inc.Diags) == 0) {
				t.Fatalf("step %d (%s, build %v, fallback %q, checked %d/%d): findings differ\ncold:\n%v\nincremental:\n%v", step, what, build, inc.Fallback, inc.Checked, inc.Events, cold.Diags, inc.Diags)
			}
			if !build && len(cold.Diags) > 0 {
				withFindings++
			}
			if cold.Diags.HasErrors() {
				continue
			}
			set, n, err := inc.Set()
			if err != nil {
				t.Fatalf("step %d (%s): set: %v", step, what, err)
			}
			if string(set) != string(coldSet) || n != len(cold.Compiled.Files) {
				t.Fatalf("step %d (%s, build %v, fallback %q): the set differs from a cold build (%d vs %d bytes, %d vs %d events)", step, what, build, inc.Fallback, len(set), len(coldSet), n, len(cold.Compiled.Files))
			}
			sets++
		}
	}
	// The comparison is only worth something if the incremental path ran, and reused results.
	if incremental < steps/2 || partial < steps/3 || withFindings == 0 || sets < steps/2 {
		t.Fatalf("the incremental path ran %d times of %d, %d of them reusing results, %d steps with findings, %d sets compared", incremental, steps, partial, withFindings, sets)
	}
	t.Logf("%d steps: %d incremental (%d reusing results), %d with findings, %d sets compared", steps, incremental, partial, withFindings, sets)
}

// TestIncrementalFallsBack: where compiling files apart could report differently from compiling
// the repository in one piece (here a raw .proto importing a file that does not exist), the
// whole pipeline runs, and says so.
func TestIncrementalFallsBack(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := synth.Generate(ctx, dir, synth.Options{N: 40, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	raws, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.proto"))
	if len(raws) == 0 {
		t.Fatal("synth wrote no raw contract")
	}
	src := readFile(t, raws[0])
	writeFile(t, raws[0], strings.Replace(src, "import \"google/protobuf/timestamp.proto\";", "import \"google/protobuf/timestamp.proto\";\nimport \"common/missing.proto\";", 1))
	cold, _, _ := coldCheck(t, dir)
	inc, err := lint.CheckIncremental(ctx, "", dir, lint.IncrOptions{Today: incrToday})
	if err != nil {
		t.Fatal(err)
	}
	if inc.Fallback == "" || !cold.Diags.HasErrors() {
		t.Fatalf("fallback %q, cold findings %v", inc.Fallback, cold.Diags)
	}
	if !reflect.DeepEqual(cold.Diags, inc.Diags) {
		t.Fatalf("findings differ\ncold:\n%v\nincremental:\n%v", cold.Diags, inc.Diags)
	}
}

// TestIncrementalWaiverExpires: an event with a waiver is cached for one day only, so a waiver
// that expires overnight is reported the next morning exactly as a cold run reports it.
func TestIncrementalWaiverExpires(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := synth.Generate(ctx, dir, synth.Options{N: 6, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	yamls, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.yaml"))
	sort.Strings(yamls)
	writeFile(t, yamls[0], readFile(t, yamls[0])+"waivers:\n  - {rule: DESCRIPTION, field: x, reason: legacy, approved_by: alice, expires: \"2026-11-23\"}\n")
	for _, today := range []string{"2026-11-23", "2026-11-24", "2026-11-24"} {
		ws, err := workspace.Open("", dir)
		if err != nil {
			t.Fatal(err)
		}
		cold := lint.Check(ctx, ws, lint.Options{Today: today, ForSet: true})
		inc, err := lint.CheckIncremental(ctx, "", dir, lint.IncrOptions{Today: today})
		if err != nil || inc.Fallback != "" {
			t.Fatalf("%s: err %v, fallback %q", today, err, inc.Fallback)
		}
		if !reflect.DeepEqual(cold.Diags, inc.Diags) {
			t.Fatalf("%s: findings differ\ncold:\n%v\nincremental:\n%v", today, cold.Diags, inc.Diags)
		}
		expired := strings.Contains(fmt.Sprint(inc.Diags), "expired")
		if expired != (today == "2026-11-24") {
			t.Fatalf("%s: expired reported %v: %v", today, expired, inc.Diags)
		}
	}
}
