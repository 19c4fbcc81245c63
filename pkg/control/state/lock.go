package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// LockInfo is the content of <env>/lock.json: who holds the environment, since when, for what.
type LockInfo struct {
	Holder    string    `json:"holder"`    // "user@host pid N"
	Time      time.Time `json:"time"`      // when it was taken or last refreshed
	Operation string    `json:"operation"` // "apply"
	ID        string    `json:"id"`        // unique per acquisition
	// Process identifies the holding process on its machine, so that a run on the same machine
	// can tell the holder was killed (see LockOptions.BreakIfGone). Never a secret.
	Process *Process `json:"process,omitempty"`
}

// Process is where a lock holder runs: its host, the kernel boot and PID namespace (a PID means
// nothing outside them: containers share host names and reuse PIDs), and its PID.
type Process struct {
	Host  string `json:"host"`
	Boot  string `json:"boot"`
	PIDNS string `json:"pid_ns"`
	PID   int    `json:"pid"`
}

// LockOptions says who is locking and when a lock counts as abandoned.
type LockOptions struct {
	Holder    string // defaults to Holder()
	Operation string // defaults to "apply"
	// StaleAfter is how old a lock must be before Acquire may break it. Zero means never: only
	// ForceUnlock removes such a lock. Ages are measured from the holder's clock, so leave a
	// margin for clock skew, and have long runs call Refresh well within it.
	StaleAfter time.Duration
	// BreakIfGone breaks a lock, however recent, whose holder ran on this machine, in this PID
	// namespace, since this boot, and whose process no longer exists: an apply killed by a
	// signal or a crash. Anything it cannot be sure of leaves the lock alone.
	BreakIfGone bool
}

// Lock is a held environment lock. Use it from one goroutine.
type Lock struct {
	// Info is what the lock object says now.
	Info LockInfo
	// Broke is the stale lock this acquisition replaced, or nil; worth a warning.
	Broke *LockInfo

	store    blob.Store
	env      string
	gen      blob.Gen
	released bool
}

// LockedError reports that another holder has the environment locked.
type LockedError struct {
	Env    string
	Object string   // the lock object's URL
	Info   LockInfo // zero, with Unreadable set, when the object does not parse
	// Unreadable is why the lock object could not be read, if it could not.
	Unreadable string
}

func (e *LockedError) Error() string {
	if e.Unreadable != "" {
		return fmt.Sprintf("state: environment %q is locked by an unreadable lock %s (%s); if no apply is running, run \"evctl unlock --env %s\"",
			e.Env, e.Object, e.Unreadable, e.Env)
	}
	return fmt.Sprintf("state: environment %q is locked by %s since %s (%s, lock id %s); if that run is gone, run \"evctl unlock --env %s\"",
		e.Env, e.Info.Holder, e.Info.Time.Format(time.RFC3339), e.Info.Operation, e.Info.ID, e.Env)
}

func lockKey(env string) string { return env + "/lock.json" }

// lockAttempts bounds Acquire's loop: each turn is a create, or a read and a break, that lost
// a race to another process. Losing this many in a row means the lock is churning.
const lockAttempts = 8

// Acquire takes the lock of env. The lock object is created only if absent; an existing one
// that is older than opts.StaleAfter is broken by a compare-and-swap on the generation it was
// read at, so of two processes breaking it one wins. A live lock is a *LockedError naming the
// holder; other failures are the store's errors, wrapped.
func Acquire(ctx context.Context, store blob.Store, env string, opts LockOptions) (*Lock, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	if opts.Holder == "" {
		opts.Holder = Holder()
	}
	if opts.Operation == "" {
		opts.Operation = "apply"
	}
	key := lockKey(env)
	for range lockAttempts {
		info := LockInfo{Holder: opts.Holder, Time: time.Now().UTC(), Operation: opts.Operation, ID: uuid.NewString(), Process: thisProcess()}
		data, err := json.Marshal(info)
		if err != nil {
			return nil, fmt.Errorf("state: lock %q: %w", env, err)
		}
		gen, err := store.Put(ctx, key, data, blob.PutOpts{IfNotExist: true})
		if err == nil {
			return &Lock{Info: info, store: store, env: env, gen: gen}, nil
		}
		if !errors.Is(err, blob.ErrPrecondition) {
			return nil, fmt.Errorf("state: lock %q: %w", env, err)
		}

		held, heldGen, err := store.Get(ctx, key)
		if errors.Is(err, blob.ErrNotExist) {
			continue // released in between: try to create it again
		}
		if err != nil {
			return nil, fmt.Errorf("state: lock %q: read the current lock: %w", env, err)
		}
		var cur LockInfo
		if err := json.Unmarshal(held, &cur); err != nil {
			return nil, &LockedError{Env: env, Object: objectURL(store, key), Unreadable: err.Error()}
		}
		stale := opts.StaleAfter > 0 && time.Since(cur.Time) >= opts.StaleAfter
		if !stale && !(opts.BreakIfGone && holderGone(cur.Process)) {
			return nil, &LockedError{Env: env, Object: objectURL(store, key), Info: cur}
		}
		gen, err = store.Put(ctx, key, data, blob.PutOpts{IfGen: heldGen})
		if err == nil {
			return &Lock{Info: info, Broke: &cur, store: store, env: env, gen: gen}, nil
		}
		if !errors.Is(err, blob.ErrPrecondition) {
			return nil, fmt.Errorf("state: lock %q: break the stale lock of %s: %w", env, cur.Holder, err)
		}
		// Another process broke, refreshed or released it first: look again.
	}
	return nil, fmt.Errorf("state: lock %q: gave up after %d attempts: the lock keeps changing hands: %w", env, lockAttempts, blob.ErrPrecondition)
}

// Refresh renews the lock's time so that it does not turn stale during a long run. If the lock
// was broken or force-unlocked meanwhile, the error wraps blob.ErrPrecondition or
// blob.ErrNotExist and the caller no longer holds the environment.
func (l *Lock) Refresh(ctx context.Context) error {
	if l.released {
		return fmt.Errorf("state: refresh lock %q: already released", l.env)
	}
	info := l.Info
	info.Time = time.Now().UTC()
	data, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("state: refresh lock %q: %w", l.env, err)
	}
	gen, err := l.store.Put(ctx, lockKey(l.env), data, blob.PutOpts{IfGen: l.gen})
	if err != nil {
		return fmt.Errorf("state: refresh lock %q: the lock was taken over: %w", l.env, err)
	}
	l.Info, l.gen = info, gen
	return nil
}

// Release deletes the lock, only if it is still this acquisition's. Releasing twice is a
// no-op. If the lock was broken or force-unlocked meanwhile, the error wraps
// blob.ErrPrecondition or blob.ErrNotExist, and the other holder's lock is left alone.
func (l *Lock) Release(ctx context.Context) error {
	if l.released {
		return nil
	}
	if err := l.store.Delete(ctx, lockKey(l.env), l.gen); err != nil {
		if errors.Is(err, blob.ErrPrecondition) || errors.Is(err, blob.ErrNotExist) {
			l.released = true // it is not ours any more: nothing left to release
			return fmt.Errorf("state: release lock %q: the lock was taken over while held: %w", l.env, err)
		}
		return fmt.Errorf("state: release lock %q: %w", l.env, err)
	}
	l.released = true
	return nil
}

// ForceUnlock removes the lock of env whoever holds it, for `evctl unlock`, and returns what
// the lock said (nil if env was not locked; an unreadable lock is removed and reported with an
// empty holder). If the lock changes hands while ForceUnlock runs, the error wraps
// blob.ErrPrecondition and the new lock is left alone.
func ForceUnlock(ctx context.Context, store blob.Store, env string) (*LockInfo, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	key := lockKey(env)
	data, gen, err := store.Get(ctx, key)
	if errors.Is(err, blob.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: unlock %q: %w", env, err)
	}
	var info LockInfo
	_ = json.Unmarshal(data, &info) // an unreadable lock is still removed
	if err := store.Delete(ctx, key, gen); err != nil {
		if errors.Is(err, blob.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("state: unlock %q: %w", env, err)
	}
	return &info, nil
}

// Holder names this process the way lock.json does: "user@host pid N". Parts that cannot be
// found read "unknown".
func Holder() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("%s@%s pid %d", name, host, os.Getpid())
}

// thisProcess describes the running process for LockInfo.Process; nil when the machine does not
// say enough (no /proc) to recognise it later.
func thisProcess() *Process {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return nil
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return nil
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return nil
	}
	return &Process{Host: host, Boot: strings.TrimSpace(string(boot)), PIDNS: ns, PID: os.Getpid()}
}

// holderGone reports whether p ran here (same host, boot and PID namespace) and its process
// does not exist any more. A process that exists, or cannot be checked, is not gone.
func holderGone(p *Process) bool {
	me := thisProcess()
	if p == nil || me == nil || p.PID <= 0 || p.Host != me.Host || p.Boot != me.Boot || p.PIDNS != me.PIDNS {
		return false
	}
	if p.PID == me.PID {
		return false // this process holds it (another apply in the same process)
	}
	return errors.Is(syscall.Kill(p.PID, 0), syscall.ESRCH)
}
