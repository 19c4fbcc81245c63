package blob

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A write's temporary file is named .tmp-<pid>-<random>: a process killed between writing it
// and renaming it into place (a killed apply, mid Delta commit) leaves it behind, and the pid
// tells the next writer whether its owner is gone. Nothing lists hidden files, so such leftovers
// are harmless to readers, but a table that is written and killed often would fill up.

const tempPrefix = ".tmp-"

// staleTemp is how old a leftover must be when its owner cannot be told (a name from an older
// evctl, without a pid) before it is removed: far longer than any single write.
const staleTemp = 10 * time.Minute

func tempPattern() string { return tempPrefix + strconv.Itoa(os.Getpid()) + "-*" }

// sweepOnce removes dir's leftover temporary files the first time this store writes to dir.
func (s *fileStore) sweepOnce(dir string) {
	if _, done := s.swept.LoadOrStore(dir, true); done {
		return
	}
	sweepTemps(dir, time.Now())
}

// sweepTemps removes the temporary files in dir whose writing process has exited (or, for a
// name without a pid, that are older than staleTemp). Errors are ignored: a leftover that
// cannot be removed now is tried again by the next process.
func sweepTemps(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, tempPrefix) || !e.Type().IsRegular() {
			continue
		}
		if !tempOrphaned(name, e, now) {
			continue
		}
		_ = os.Remove(filepath.Join(dir, name))
	}
}

func tempOrphaned(name string, e os.DirEntry, now time.Time) bool {
	pidText, _, hasPid := strings.Cut(strings.TrimPrefix(name, tempPrefix), "-")
	pid, err := strconv.Atoi(pidText)
	if !hasPid || err != nil || pid <= 0 {
		fi, err := e.Info()
		return err == nil && now.Sub(fi.ModTime()) > staleTemp
	}
	if pid == os.Getpid() {
		return false // a write of this process, in flight
	}
	return !processAlive(pid)
}

// processAlive reports whether pid names a running process on this machine (signal 0 checks
// without signalling; EPERM means it exists under another user).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
