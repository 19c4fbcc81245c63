package apply_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/sink/dlq"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// The crash helper is this test binary run again, applying the repository named by
// crashRepoEnv; an apply.Options.AfterEach hook, set from EVCTL_TEST_CRASH_AFTER as the CLI
// sets it, kills it mid-way with exit code 3.
const (
	crashRepoEnv     = "EVCTL_APPLY_TEST_CRASH_REPO"
	crashPasswordEnv = "EVCTL_APPLY_TEST_CRASH_PASSWORD"
	crashHolder      = "crash-helper"
)

func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashRepoEnv)
	if dir == "" {
		t.Skip("run by TestCrashConverges in a subprocess")
	}
	r := &repo{t: t, dir: dir, connectTimeout: 10 * time.Second,
		vars: map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": os.Getenv(crashPasswordEnv)}}
	n, err := strconv.Atoi(os.Getenv("EVCTL_TEST_CRASH_AFTER"))
	if err != nil || n <= 0 {
		t.Fatalf("EVCTL_TEST_CRASH_AFTER=%q: want a count", os.Getenv("EVCTL_TEST_CRASH_AFTER"))
	}
	crash := func(applied int) {
		if applied >= n {
			os.Exit(3)
		}
	}
	rep, _ := r.apply(testCtx(t), apply.Options{Who: crashHolder, AfterEach: crash})
	if rep.Failed() {
		t.Fatalf("helper apply: %v", notOK(rep))
	}
	os.Exit(0) // the hook did not fire: tell the parent with 0, not a test result
}

// crashApply runs an apply in a subprocess that exits after n resources, and returns its exit
// code.
func crashApply(t *testing.T, r *repo, n int) int {
	t.Helper()
	cmd := exec.CommandContext(testCtx(t), os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashRepoEnv+"="+r.dir, crashPasswordEnv+"="+r.kc.AdminPassword,
		fmt.Sprintf("EVCTL_TEST_CRASH_AFTER=%d", n))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.ExitCode() != 3 {
			t.Logf("helper output:\n%s", out)
		}
		return ee.ExitCode()
	}
	t.Fatalf("run the crash helper: %v\n%s", err, out)
	return -1
}

// TestCrashConverges kills an apply after N resources, for several N, then applies again:
// the stale lock names the crashed run, and once removed the next apply converges with nothing
// duplicated (one index entry per event, no duplicate ACL entries, no pending records).
func TestCrashConverges(t *testing.T) {
	if os.Getenv(crashRepoEnv) != "" {
		t.Skip("inside the helper")
	}
	total := len(wantResources(defaultEvents()))
	for _, n := range []int{1, 2, 4, 5, 8, 11, total} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ctx := testCtx(t)
			kc := kafkatest.Start(t)
			r := newRepo(t, kc, defaultEvents())
			if code := crashApply(t, r, n); code != 3 {
				t.Fatalf("apply with EVCTL_TEST_CRASH_AFTER=%d exited %d, want 3", n, code)
			}
			// A second crash while finishing the first run's work.
			_, conn := r.plan(ctx)
			if _, err := state.ForceUnlock(ctx, conn.State, "local"); err != nil {
				t.Fatal(err)
			}
			code := crashApply(t, r, 1)
			if code != 3 && code != 0 { // 0: nothing was left to apply, so the hook never fired
				t.Fatalf("second crash run exited %d", code)
			}
			if code == 3 {
				_, err := r.tryApply(ctx, apply.Options{})
				var locked *state.LockedError
				if !errors.As(err, &locked) || locked.Info.Holder != crashHolder {
					t.Fatalf("apply after a crash: %v, want the crashed run's lock named", err)
				}
				info, err := state.ForceUnlock(ctx, conn.State, "local")
				if err != nil || info == nil || info.Holder != crashHolder {
					t.Fatalf("unlock: %+v, %v", info, err)
				}
			}

			rep, _ := r.apply(ctx, apply.Options{})
			if rep.Failed() {
				t.Fatalf("apply after the crash: %v", notOK(rep))
			}
			converged(t, r)
			checkNoDuplicates(t, r)
		})
	}
}

// checkNoDuplicates checks the live systems hold each resource of r once.
func checkNoDuplicates(t *testing.T, r *repo) {
	t.Helper()
	ctx := testCtx(t)
	_, conn := r.plan(ctx)
	idx, _, err := descstore.ReadIndex(ctx, conn.Descriptors)
	must(t, err)
	var ids []string
	for _, e := range r.events {
		ids = append(ids, e.ID())
	}
	sort.Strings(ids)
	if got := idx.EventIDs(); !reflect.DeepEqual(got, ids) {
		t.Errorf("index events %v, want %v", got, ids)
	}
	for id, e := range idx.Events {
		if _, err := descstore.ReadSet(ctx, conn.Descriptors, e.SHA256); err != nil {
			t.Errorf("index names %s for %s, whose set is missing: %v", e.SHA256, id, err)
		}
	}

	topics, err := admin(t, r.kc).ListTopics(ctx)
	must(t, err)
	if len(topics.Names()) != 2*len(r.events) {
		t.Errorf("topics %v, want one per event and its dead-letter topic", topics.Names())
	}

	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	resp, err := conn.Kafka.Kgo().Request(ctx, req)
	must(t, err)
	seen := map[string]int{}
	for _, res := range resp.(*kmsg.DescribeACLsResponse).Resources {
		for _, a := range res.ACLs {
			seen[fmt.Sprintf("%s %s %v %v %v %v", a.Principal, res.ResourceName, res.ResourcePatternType, a.Operation, a.PermissionType, a.Host)]++
		}
	}
	want := map[string]bool{}
	for _, e := range r.events {
		d, err := dlq.NewSpec(0, "", nil, e.Producers, e.Consumers)
		must(t, err)
		d.ACL.Topic = e.Topic() + ".dlq"
		for _, b := range append(kafka.NewACLSpec(e.Topic(), e.Producers, e.Consumers).Bindings(), d.ACL.Bindings()...) {
			want[fmt.Sprintf("%s %s %v %v %v %v", b.Principal, b.Resource, b.Pattern, b.Operation, b.Permission, b.Host)] = true
		}
	}
	for k, n := range seen {
		if n != 1 || !want[k] {
			t.Errorf("live ACL %q: %d entries, wanted %v", k, n, want[k])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d live ACL entries, want %d", len(seen), len(want))
	}
}

// TestKilledApplyLockBrokenHere: an apply killed on this machine leaves its lock, fresh; the
// next apply that may break a dead holder's lock (as `evctl apply` does) breaks it, says whose
// it was, and converges.
func TestKilledApplyLockBrokenHere(t *testing.T) {
	if os.Getenv(crashRepoEnv) != "" {
		t.Skip("inside the helper")
	}
	ctx := testCtx(t)
	r := newRepo(t, kafkatest.Start(t), defaultEvents())
	if code := crashApply(t, r, 3); code != 3 {
		t.Fatalf("apply with EVCTL_TEST_CRASH_AFTER=3 exited %d, want 3", code)
	}
	if _, err := r.tryApply(ctx, apply.Options{StaleLock: time.Hour}); !errors.As(err, new(*state.LockedError)) {
		t.Fatalf("apply without BreakDeadLock: %v, want the killed run's lock", err)
	}
	rep, err := r.tryApply(ctx, apply.Options{StaleLock: time.Hour, BreakDeadLock: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.BrokeLock == nil || rep.BrokeLock.Holder != crashHolder || rep.BrokeLock.Process == nil {
		t.Fatalf("BrokeLock = %+v, want the killed run's lock", rep.BrokeLock)
	}
	if rep.Failed() {
		t.Fatal(notOK(rep))
	}
	converged(t, r)
	checkNoDuplicates(t, r)
}
