package workspace

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"sync"
)

// CacheDir holds results evctl can reuse, addressed by the content of everything that produced
// them (as Go's build cache and buf's do): lint's per-event cache lives in CacheDir/incr. It is
// local state: .evctl/ is gitignored.
const CacheDir = ".evctl/cache"

// errDoubt stops a walk at an input the cache cannot vouch for.
var errDoubt = errors.New("not a regular file")

var exeOnce struct {
	sync.Once
	id string
	ok bool
}

// executableID identifies the running evctl binary: its Go build ID (a hash of everything it was
// linked from) when the binary is ELF, else the sha256 of the whole file.
func executableID() (string, bool) {
	exeOnce.Do(func() {
		p, err := os.Executable()
		if err != nil {
			return
		}
		if f, err := elf.Open(p); err == nil {
			defer f.Close()
			if s := f.Section(".note.go.buildid"); s != nil {
				if b, err := s.Data(); err == nil && len(b) > 16 {
					sum := sha256.Sum256(b)
					exeOnce.id, exeOnce.ok = "buildid:"+hex.EncodeToString(sum[:]), true
					return
				}
			}
		}
		f, err := os.Open(p)
		if err != nil {
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return
		}
		exeOnce.id, exeOnce.ok = "sha256:"+hex.EncodeToString(h.Sum(nil)), true
	})
	return exeOnce.id, exeOnce.ok
}
