//go:build unix

package workspace

import (
	"io/fs"
	"syscall"
)

// statID is what a scan checks beyond size, mode and modification time, as git's index does:
// the inode (a file replaced by another) and the change time, which every write and rename
// sets and no tool can set back, unlike the modification time (touch -r, rsync -t, cp -p).
func statID(info fs.FileInfo) (ino uint64, ctime int64) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return uint64(st.Ino), st.Ctim.Sec*1e9 + st.Ctim.Nsec
}
