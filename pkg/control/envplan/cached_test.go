package envplan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/envplan"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// cachedRepo writes a synthetic repository of n events whose local environment uses kc (in
// evctl.yaml itself: PrepareCached reads the file) and returns its root and the variables.
func cachedRepo(t testing.TB, kc *kafkatest.Cluster, n int, seed uint64) (string, func(string) string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := synth.WriteContracts(dir, synth.Options{N: n, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, config.FileName)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), "127.0.0.1:9092", kc.Addrs[0], 1))
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": kc.AdminPassword}
	return dir, func(k string) string { return vars[k] }
}

// planJSON is a plan as `evctl plan -o json` prints it.
func planJSON(t *testing.T, p *plan.Plan) string {
	t.Helper()
	b, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func cached(t *testing.T, dir string, getenv func(string) string, refresh plan.Refresh) *envplan.Run {
	t.Helper()
	run, err := envplan.PrepareCached(testCtx(t), "", dir, "local", envplan.Options{Getenv: getenv, Refresh: refresh})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Close)
	return run
}

// reference is the plan of the whole pipeline (envplan.Prepare: the workspace loaded, every
// contract compiled, every resource observed).
func reference(t *testing.T, dir string, getenv func(string) string) *envplan.Run {
	t.Helper()
	ws, err := workspace.Open("", dir)
	if err != nil {
		t.Fatal(err)
	}
	run, err := envplan.Prepare(testCtx(t), ws, "local", envplan.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Close)
	return run
}

func applyRun(t testing.TB, run *envplan.Run) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := apply.Run(ctx, run.Conn.Registry, run.Conn.State, run.Plan, apply.Options{Env: "local", Who: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Status == "failed" {
			t.Fatalf("apply: %s/%s failed: %s", r.Kind, r.Name, r.Error)
		}
	}
}

// edits are the random contract edits of TestCachedPlanEqualsFull: each changes one event file
// in a way some kind sees (its descriptor, topic, dead-letter topic, ACLs, tables) or removes it.
var edits = []struct {
	name string
	re   *regexp.Regexp
	to   string
}{
	{"description", regexp.MustCompile(`, description: "`), `, description: "Edited. `},
	{"retention", regexp.MustCompile(`retention: \d+d`), `retention: 3d`},
	{"partitions", regexp.MustCompile(`partitions: (\d+)`), `partitions: 48`},
	{"consumers", regexp.MustCompile(`consumers: \[[a-z]+, `), `consumers: [`},
	{"remove", nil, ""},
}

// TestCachedPlanEqualsFull: after random edit sequences, the cached plan (fast and full
// refresh, the cache warm from the previous plan) is the whole pipeline's plan, byte for byte
// as JSON, against kfake and file:// stores; applying in between moves the state on.
func TestCachedPlanEqualsFull(t *testing.T) {
	kc := kafkatest.Start(t)
	dir, getenv := cachedRepo(t, kc, 10, 7)
	first := cached(t, dir, getenv, plan.RefreshFast)
	if got, want := planJSON(t, first.Plan), planJSON(t, reference(t, dir, getenv).Plan); got != want {
		t.Fatalf("cold cached plan differs from the full one:\n%s", firstDiff(got, want))
	}
	applyRun(t, first)
	prev := planJSON(t, reference(t, dir, getenv).Plan)
	rng := rand.New(rand.NewSource(1))
	for step := 0; step < 10; step++ {
		files, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.yaml"))
		sort.Strings(files)
		f := files[rng.Intn(len(files))]
		e := edits[rng.Intn(len(edits))]
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case e.re == nil:
			err = os.Remove(f)
		case e.re.Match(b):
			err = os.WriteFile(f, e.re.ReplaceAll(b, []byte(e.to)), 0o644)
		default:
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		label := fmt.Sprintf("step %d (%s of %s)", step, e.name, filepath.Base(f))
		t.Log(label)
		ref := planJSON(t, reference(t, dir, getenv).Plan)
		if ref == prev {
			t.Fatalf("%s: the edit changes nothing in the full plan:\n%s", label, ref)
		}
		fast := cached(t, dir, getenv, plan.RefreshFast)
		if got := planJSON(t, fast.Plan); got != ref {
			t.Fatalf("%s: fast cached plan differs from the full one:\n%s", label, firstDiff(got, ref))
		}
		if got := planJSON(t, cached(t, dir, getenv, plan.RefreshFull).Plan); got != ref {
			t.Fatalf("%s: full-refresh cached plan differs from the full one:\n%s", label, firstDiff(got, ref))
		}
		if step%2 == 1 {
			applyRun(t, fast)
			ref = planJSON(t, reference(t, dir, getenv).Plan)
		}
		prev = ref
	}
}

// TestRefreshCoverage: what a fast plan reads of an applied environment and what only
// --refresh=full reads, each against kfake and the file:// descriptor store. A topic deleted by
// hand, an ACL entry removed by hand and a descriptor index entry changed by hand are seen by
// both; a topic config changed by hand only by the full refresh (the fast plan takes it as
// applied, as its documentation says).
func TestRefreshCoverage(t *testing.T) {
	kc := kafkatest.Start(t)
	dir, getenv := cachedRepo(t, kc, 6, 11)
	applyRun(t, cached(t, dir, getenv, plan.RefreshFull))
	run := cached(t, dir, getenv, plan.RefreshFast)
	if run.Plan.HasChanges() || len(run.Plan.Drift) > 0 {
		t.Fatalf("plan after apply: %+v", run.Plan.Summary)
	}
	var topics []string
	for _, c := range run.Plan.Changes {
		if c.Kind == "kafka_topic" {
			topics = append(topics, c.Name)
		}
	}
	if len(topics) < 3 {
		t.Fatalf("want 3 topics, have %v", topics)
	}
	adm := kafkatest.Admin(t, kc).Admin()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// By hand: a topic's retention, a topic deleted, an ACL entry deleted, an index entry.
	retained, gone, open := topics[0], topics[1], topics[2]
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("1000")}}, retained); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteTopics(ctx, gone); err != nil {
		t.Fatal(err)
	}
	del, err := adm.DeleteACLs(ctx, kadm.NewACLs().Topics(open).Operations(kadm.OpRead).Allow().AllowHosts())
	if err == nil && len(del) > 0 {
		err = del[0].Err
	}
	if err != nil || len(del) == 0 || len(del[0].Deleted) == 0 {
		t.Fatalf("delete the READ entries of %s: %v (%d results)", open, err, len(del))
	}
	store, err := blob.OpenIn(ctx, dir, "file://.evctl/descriptors")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var edited string
	if err := descstore.UpdateIndex(ctx, store, func(idx *descstore.Index) {
		for id := range idx.Events {
			if edited == "" || id < edited {
				edited = id
			}
		}
		e := idx.Events[edited]
		e.Stage = "by-hand"
		idx.Events[edited] = e
	}); err != nil {
		t.Fatal(err)
	}

	drifted := func(p *plan.Plan) map[string]bool {
		out := map[string]bool{}
		for _, d := range p.Drift {
			out[sink.Ref(d.Kind, d.Name)] = true
		}
		return out
	}
	fast := drifted(cached(t, dir, getenv, plan.RefreshFast).Plan)
	full := drifted(cached(t, dir, getenv, plan.RefreshFull).Plan)
	for _, ref := range []string{sink.Ref("kafka_topic", gone), sink.Ref("kafka_acl", open), sink.Ref("descriptor", edited)} {
		if !fast[ref] || !full[ref] {
			t.Errorf("%s: drift seen by fast %v, full %v; want both", ref, fast[ref], full[ref])
		}
	}
	ref := sink.Ref("kafka_topic", retained)
	if fast[ref] || !full[ref] {
		t.Errorf("%s (retention changed by hand): drift seen by fast %v, full %v; want only full", ref, fast[ref], full[ref])
	}
}

// firstDiff shows the first differing line of two texts, with context.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			lo := max(0, i-8)
			return fmt.Sprintf("line %d\ngot:  %q\nwant: %q\ncontext (want):\n%s", i+1, a, b, strings.Join(w[lo:min(len(w), i+3)], "\n"))
		}
	}
	return "(equal)"
}
