package state_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
)

func opts(holder string, staleAfter time.Duration) state.LockOptions {
	return state.LockOptions{Holder: holder, Operation: "apply", StaleAfter: staleAfter}
}

// putLock writes a lock object as another process would have left it.
func putLock(t *testing.T, store blob.Store, env string, info state.LockInfo) {
	t.Helper()
	data, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(t.Context(), env+"/lock.json", data, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
}

func wantLocked(t *testing.T, err error, holder string) *state.LockedError {
	t.Helper()
	var le *state.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("error %v, want a *LockedError", err)
	}
	if le.Info.Holder != holder {
		t.Errorf("locked by %q, want %q", le.Info.Holder, holder)
	}
	return le
}

func TestLockContention(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		ctx := t.Context()
		a, err := state.Acquire(ctx, store, "local", opts("alice@ci pid 1", time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if a.Broke != nil || a.Info.ID == "" || a.Info.Time.IsZero() {
			t.Errorf("lock info %+v, broke %+v", a.Info, a.Broke)
		}
		_, err = state.Acquire(ctx, store, "local", opts("bob@laptop pid 2", time.Hour))
		le := wantLocked(t, err, "alice@ci pid 1")
		for _, want := range []string{`"local"`, "alice@ci pid 1", a.Info.Time.Format(time.RFC3339), "apply", "evctl unlock --env local"} {
			if !strings.Contains(le.Error(), want) {
				t.Errorf("error %q does not say %q", le.Error(), want)
			}
		}
		// Another environment is not affected.
		p, err := state.Acquire(ctx, store, "prod", opts("bob@laptop pid 2", time.Hour))
		if err != nil {
			t.Fatalf("prod: %v", err)
		}
		for _, l := range []*state.Lock{a, p} {
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx); err != nil {
				t.Errorf("second release: %v", err)
			}
		}
		b, err := state.Acquire(ctx, store, "local", opts("bob@laptop pid 2", time.Hour))
		if err != nil {
			t.Fatalf("acquire after release: %v", err)
		}
		if err := b.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLockConcurrentAcquire(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		const n = 8
		var wg sync.WaitGroup
		locks := make([]*state.Lock, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { locks[i], errs[i] = state.Acquire(t.Context(), store, "local", opts("racer", time.Hour)) })
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			var le *state.LockedError
			switch {
			case err == nil && locks[i] != nil:
				won++
			case !errors.As(err, &le):
				t.Errorf("racer %d: %v, want a *LockedError", i, err)
			}
		}
		if won != 1 {
			t.Errorf("%d racers hold the lock, want 1", won)
		}
	})
}

func TestLockStale(t *testing.T) {
	old := state.LockInfo{Holder: "ghost@gone pid 9", Time: time.Now().Add(-2 * time.Hour), Operation: "apply", ID: "old"}
	cases := []struct {
		name       string
		staleAfter time.Duration
		wantBreak  bool
	}{
		{"older than staleAfter is broken", time.Hour, true},
		{"younger than staleAfter is held", 3 * time.Hour, false},
		{"zero staleAfter never breaks", 0, false},
	}
	onBackends(t, func(t *testing.T, store blob.Store) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				putLock(t, store, "local", old)
				l, err := state.Acquire(t.Context(), store, "local", opts("new@host pid 3", c.staleAfter))
				if !c.wantBreak {
					wantLocked(t, err, old.Holder)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if l.Broke == nil || l.Broke.ID != "old" {
					t.Errorf("Broke = %+v, want the stale lock", l.Broke)
				}
				if err := l.Release(t.Context()); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

// TestLockStaleBreakRace has many processes find the same stale lock: the compare-and-swap
// lets exactly one break it; the others then see the winner's live lock.
func TestLockStaleBreakRace(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		putLock(t, store, "local", state.LockInfo{Holder: "ghost", Time: time.Now().Add(-time.Hour), ID: "old"})
		const n = 6
		var wg sync.WaitGroup
		locks := make([]*state.Lock, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { locks[i], errs[i] = state.Acquire(t.Context(), store, "local", opts("breaker", time.Minute)) })
		}
		wg.Wait()
		var winner *state.Lock
		for i, err := range errs {
			var le *state.LockedError
			switch {
			case err == nil && winner != nil:
				t.Fatalf("two breakers hold the lock")
			case err == nil:
				winner = locks[i]
			case !errors.As(err, &le):
				t.Errorf("breaker %d: %v, want a *LockedError", i, err)
			case le.Info.Holder != "breaker":
				t.Errorf("breaker %d sees holder %q, want the winning breaker", i, le.Info.Holder)
			}
		}
		if winner == nil {
			t.Fatal("nobody broke the stale lock")
		}
		if winner.Broke == nil || winner.Broke.ID != "old" {
			t.Errorf("winner broke %+v, want the stale lock", winner.Broke)
		}
	})
}

// TestLockTakenOver: after a force-unlock and a new holder, the old holder's Refresh and
// Release fail and leave the new holder's lock alone.
func TestLockTakenOver(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		ctx := t.Context()
		a, err := state.Acquire(ctx, store, "local", opts("a", time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Refresh(ctx); err != nil {
			t.Fatalf("refresh of a held lock: %v", err)
		}
		info, err := state.ForceUnlock(ctx, store, "local")
		if err != nil || info == nil || info.Holder != "a" {
			t.Fatalf("ForceUnlock = %+v, %v; want a's lock", info, err)
		}
		if info, err := state.ForceUnlock(ctx, store, "local"); info != nil || err != nil {
			t.Errorf("ForceUnlock of an unlocked env = %+v, %v; want nil, nil", info, err)
		}
		b, err := state.Acquire(ctx, store, "local", opts("b", time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Refresh(ctx); !errors.Is(err, blob.ErrPrecondition) {
			t.Errorf("refresh of a lost lock = %v, want ErrPrecondition", err)
		}
		if err := a.Release(ctx); err == nil {
			t.Error("release of a lost lock: no error")
		}
		_, err = state.Acquire(ctx, store, "local", opts("c", time.Hour))
		wantLocked(t, err, "b")
		if err := b.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLockUnreadable(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		if _, err := store.Put(t.Context(), "local/lock.json", []byte("garbage"), blob.PutOpts{}); err != nil {
			t.Fatal(err)
		}
		_, err := state.Acquire(t.Context(), store, "local", opts("a", time.Minute))
		le := wantLocked(t, err, "")
		if le.Unreadable == "" || !strings.Contains(err.Error(), "evctl unlock --env local") {
			t.Errorf("error %q: want it to say the lock is unreadable and how to unlock", err)
		}
		if _, err := state.ForceUnlock(t.Context(), store, "local"); err != nil {
			t.Fatal(err)
		}
		l, err := state.Acquire(t.Context(), store, "local", opts("a", time.Minute))
		if err != nil {
			t.Fatalf("acquire after unlock: %v", err)
		}
		l.Release(t.Context())
	})
}

func TestHolder(t *testing.T) {
	h := state.Holder()
	if !strings.Contains(h, "@") || !strings.Contains(h, " pid ") {
		t.Errorf("Holder() = %q, want user@host pid N", h)
	}
}

// TestLockBreakIfGone: a recent lock whose holder ran on this machine and whose process is gone
// (killed) is broken with BreakIfGone; one whose process lives, or that ran elsewhere (another
// host, another PID namespace), or with BreakIfGone off, is held.
func TestLockBreakIfGone(t *testing.T) {
	// A process that existed and is gone: started and waited for.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatalf("start a process: %v", err)
	}
	alive := exec.Command("sleep", "60")
	if err := alive.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = alive.Process.Kill(); _ = alive.Wait() })

	here, err := state.Acquire(t.Context(), mustFileStore(t), "probe", state.LockOptions{Holder: "probe"})
	if err != nil {
		t.Fatal(err)
	}
	me := *here.Info.Process
	if me.Host == "" || me.Boot == "" || me.PIDNS == "" || me.PID != os.Getpid() {
		t.Fatalf("this process is described as %+v", me)
	}
	with := func(f func(p *state.Process)) *state.Process { p := me; f(&p); return &p }
	cases := []struct {
		name    string
		process *state.Process
		gone    bool // BreakIfGone breaks it
	}{
		{"killed here", with(func(p *state.Process) { p.PID = dead.Process.Pid }), true},
		{"running here", with(func(p *state.Process) { p.PID = alive.Process.Pid }), false},
		{"this very process", with(func(p *state.Process) {}), false},
		{"another host", with(func(p *state.Process) { p.Host += "-other"; p.PID = dead.Process.Pid }), false},
		{"another PID namespace", with(func(p *state.Process) { p.PIDNS = "pid:[1]"; p.PID = dead.Process.Pid }), false},
		{"before a reboot", with(func(p *state.Process) { p.Boot = "old-boot"; p.PID = dead.Process.Pid }), false},
		{"an older evctl, no process", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := mustFileStore(t)
			held := state.LockInfo{Holder: "killed@here", Time: time.Now(), Operation: "apply", ID: "held", Process: c.process}
			putLock(t, store, "local", held)
			_, err := state.Acquire(t.Context(), store, "local", opts("next@here", time.Hour))
			wantLocked(t, err, held.Holder) // without BreakIfGone it is always held
			o := opts("next@here", time.Hour)
			o.BreakIfGone = true
			l, err := state.Acquire(t.Context(), store, "local", o)
			if !c.gone {
				wantLocked(t, err, held.Holder)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Broke == nil || l.Broke.ID != "held" {
				t.Fatalf("Broke = %+v, want the killed run's lock", l.Broke)
			}
		})
	}
}

func mustFileStore(t *testing.T) blob.Store {
	t.Helper()
	s, err := blob.Open(t.Context(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
