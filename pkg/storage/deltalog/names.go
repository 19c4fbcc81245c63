package deltalog

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// LogDir is the log directory's name under a table's location.
const LogDir = "_delta_log"

// lastCheckpointName is the pointer file to a recent checkpoint.
const lastCheckpointName = "_last_checkpoint"

// CommitKey is the key of the commit file of version v of the table at location table.
func CommitKey(table string, v int64) string {
	return path.Join(table, LogDir, fmt.Sprintf("%020d.json", v))
}

// logFile is one classified entry of _delta_log.
type logFile struct {
	version int64
	kind    fileKind
	part    int // multi-part checkpoints: 1-based part number
	parts   int // multi-part checkpoints: number of parts
}

type fileKind int

const (
	kindOther        fileKind = iota
	kindCommit                // 00000000000000000010.json
	kindCheckpoint            // 00000000000000000010.checkpoint.parquet
	kindMultiPart             // 00000000000000000010.checkpoint.0000000001.0000000003.parquet
	kindV2Checkpoint          // 00000000000000000010.checkpoint.<uuid>.{json,parquet}
)

// classify parses a file name in _delta_log. Names it does not know (crc files, compacted logs,
// _last_checkpoint, temporary files) are kindOther and ignored.
func classify(name string) logFile {
	if len(name) < 21 || name[20] != '.' {
		return logFile{}
	}
	v, err := strconv.ParseInt(name[:20], 10, 64)
	if err != nil || v < 0 {
		return logFile{}
	}
	rest := name[21:]
	switch {
	case rest == "json":
		return logFile{version: v, kind: kindCommit}
	case rest == "checkpoint.parquet":
		return logFile{version: v, kind: kindCheckpoint}
	case strings.HasPrefix(rest, "checkpoint."):
		mid := strings.TrimPrefix(rest, "checkpoint.")
		if p, n, ok := multiPart(mid); ok {
			return logFile{version: v, kind: kindMultiPart, part: p, parts: n}
		}
		if strings.HasSuffix(mid, ".json") || strings.HasSuffix(mid, ".parquet") {
			return logFile{version: v, kind: kindV2Checkpoint}
		}
	}
	return logFile{}
}

// multiPart parses "0000000001.0000000003.parquet".
func multiPart(s string) (part, parts int, ok bool) {
	f := strings.Split(s, ".")
	if len(f) != 3 || f[2] != "parquet" || len(f[0]) != 10 || len(f[1]) != 10 {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(f[0])
	n, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || p < 1 || n < 1 || p > n {
		return 0, 0, false
	}
	return p, n, true
}
