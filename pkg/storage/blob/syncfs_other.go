//go:build !linux

package blob

import "syscall"

// syncFS flushes every file system (sync(2)): without syncfs(2), the one that holds dir cannot
// be flushed alone.
func syncFS(string) error {
	syscall.Sync()
	return nil
}
