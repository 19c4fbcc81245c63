package blob

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS flushes the file system that holds dir, data and metadata: syncfs(2).
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return &os.SyscallError{Syscall: "syncfs", Err: err}
	}
	return nil
}
