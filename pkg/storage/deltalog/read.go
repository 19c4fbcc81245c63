package deltalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// Snapshot is a table's state at its latest version.
type Snapshot struct {
	Location string // the table's key prefix in the store
	Version  int64
	Protocol Protocol
	Metadata Metadata
	// Schema is Metadata.SchemaString decoded with typemap.ParseDeltaSchema.
	Schema typemap.StructType
	// NumFiles is the number of live logical files (add actions after reconciliation).
	NumFiles int
	// Checkpoint is the version of the checkpoint replay started from, or -1 for none.
	Checkpoint int64
	// ColumnMapping is "none", "name" or "id" (see ColumnMapping).
	ColumnMapping string
	// Files are the live logical files (add actions after reconciliation), sorted by path.
	Files []AddFile
	// Txns is the newest version of every application id that wrote txn actions.
	Txns map[string]int64
	// Tombstones are the remove actions of files not added again, sorted by path: checkpoints
	// keep those still within the table's retention, for VACUUM and concurrent readers.
	Tombstones []RemoveFile
}

// replay accumulates actions in version order.
type replay struct {
	protocol *Protocol
	metadata *Metadata
	files    map[string]AddFile
	txns     map[string]int64
	removed  map[string]RemoveFile
}

func (r *replay) apply(a Action) {
	switch {
	case a.Protocol != nil:
		r.protocol = a.Protocol
	case a.MetaData != nil:
		r.metadata = a.MetaData
	case a.Add != nil:
		k := fileKey(a.Add.Path, a.Add.DeletionVector)
		r.files[k] = *a.Add
		delete(r.removed, k)
	case a.Remove != nil:
		k := fileKey(a.Remove.Path, a.Remove.DeletionVector)
		delete(r.files, k)
		rm := *a.Remove
		rm.DataChange = false // a tombstone is state, not a change (checkpoints write false)
		r.removed[k] = rm
	case a.Txn != nil:
		r.txns[a.Txn.AppID] = a.Txn.Version
	}
}

// Read returns the latest snapshot of the table whose files are under the key prefix table in
// store ("feed/video_played_v1"; "" is the store's root).
//
// Errors: ErrNoTable when there is no _delta_log; ErrCorrupt when the log cannot be replayed
// (a commit that is not JSON, a gap in versions, no protocol or metaData, objects but no log);
// ErrUnsupported when reading needs what this package does not implement (see CheckRead);
// otherwise the store's error. Every error names the table.
func Read(ctx context.Context, store blob.Store, table string) (*Snapshot, error) {
	s, err := read(ctx, store, table)
	if err != nil {
		return nil, fmt.Errorf("deltalog: read table %s: %w", where(store, table), err)
	}
	return s, nil
}

func where(store blob.Store, table string) string {
	if table == "" {
		return store.URL()
	}
	return strings.TrimSuffix(store.URL(), "/") + "/" + table
}

func logPrefix(table string) string {
	if table == "" {
		return LogDir + "/"
	}
	return table + "/" + LogDir + "/"
}

// listing is what Read found in _delta_log.
type listing struct {
	commits    map[int64]string
	classic    map[int64]string
	multi      map[int64]map[int]map[int]string // version → parts → part → key
	v2         int64                            // newest UUID-named checkpoint, -1 for none
	lastCkpt   string                           // key of _last_checkpoint, if any
	maxCommit  int64
	checkpoint int64 // newest complete checkpoint, -1 for none
}

func list(ctx context.Context, store blob.Store, table string) (*listing, error) {
	prefix := logPrefix(table)
	keys, err := store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		if table != "" {
			other, err := store.List(ctx, table+"/")
			if err != nil {
				return nil, err
			}
			if len(other) > 0 {
				return nil, fmt.Errorf("%w: the location holds %d objects but no %s: not a Delta table", ErrCorrupt, len(other), LogDir)
			}
		}
		return nil, fmt.Errorf("%w: no %s", ErrNoTable, LogDir)
	}
	l := &listing{commits: map[int64]string{}, classic: map[int64]string{}, multi: map[int64]map[int]map[int]string{},
		v2: -1, maxCommit: -1, checkpoint: -1}
	for _, k := range keys {
		name := strings.TrimPrefix(k, prefix)
		if strings.Contains(name, "/") {
			continue // _sidecars/, _staged_commits/, _commits/
		}
		if name == lastCheckpointName {
			l.lastCkpt = k
			continue
		}
		f := classify(name)
		switch f.kind {
		case kindCommit:
			l.commits[f.version] = k
			l.maxCommit = max(l.maxCommit, f.version)
		case kindCheckpoint:
			l.classic[f.version] = k
		case kindMultiPart:
			if l.multi[f.version] == nil {
				l.multi[f.version] = map[int]map[int]string{}
			}
			if l.multi[f.version][f.parts] == nil {
				l.multi[f.version][f.parts] = map[int]string{}
			}
			l.multi[f.version][f.parts][f.part] = k
		case kindV2Checkpoint:
			l.v2 = max(l.v2, f.version)
		}
	}
	for v := range l.classic {
		l.checkpoint = max(l.checkpoint, v)
	}
	for v := range l.multi {
		if v > l.checkpoint && l.completeParts(v) != nil {
			l.checkpoint = v
		}
	}
	return l, nil
}

// completeParts returns the keys of a complete multi-part checkpoint at v, in part order, or
// nil. Readers must ignore multi-part checkpoints with missing parts.
func (l *listing) completeParts(v int64) []string {
	for n, parts := range l.multi[v] {
		if len(parts) == n {
			keys := make([]string, 0, n)
			for p := 1; p <= n; p++ {
				keys = append(keys, parts[p])
			}
			return keys
		}
	}
	return nil
}

// lastCheckpoint is the _last_checkpoint file (the fields Read uses).
type lastCheckpoint struct {
	Version int64 `json:"version"`
	Parts   *int  `json:"parts"`
}

func read(ctx context.Context, store blob.Store, table string) (*Snapshot, error) {
	l, err := list(ctx, store, table)
	if err != nil {
		return nil, err
	}
	// _last_checkpoint points at a recent checkpoint. The listing is authoritative (it may hold a
	// newer complete checkpoint, and the pointed-at one may have lost a part), so a pointer that
	// cannot be read or does not match a complete checkpoint is ignored, as Delta readers do.
	if l.lastCkpt != "" {
		if b, _, err := store.Get(ctx, l.lastCkpt); err == nil {
			var lc lastCheckpoint
			if json.Unmarshal(b, &lc) == nil && lc.Version > l.checkpoint {
				if _, ok := l.classic[lc.Version]; ok || l.completeParts(lc.Version) != nil {
					l.checkpoint = lc.Version
				}
			}
		} else if !errors.Is(err, blob.ErrNotExist) {
			return nil, err
		}
	}
	if l.v2 > l.checkpoint {
		return nil, fmt.Errorf("%w: UUID-named (v2) checkpoint at version %d; evctl reads classic and multi-part checkpoints only", ErrUnsupported, l.v2)
	}
	latest := max(l.maxCommit, l.checkpoint)
	first := l.checkpoint + 1
	if l.checkpoint < 0 {
		if _, ok := l.commits[0]; !ok {
			return nil, fmt.Errorf("%w: no commit for version 0 and no checkpoint to start from", ErrCorrupt)
		}
		first = 0
	}
	for v := first; v <= latest; v++ {
		if _, ok := l.commits[v]; !ok {
			return nil, fmt.Errorf("%w: gap in versions: commit %020d.json is missing (latest is %d)", ErrCorrupt, v, latest)
		}
	}

	r := &replay{files: map[string]AddFile{}, txns: map[string]int64{}, removed: map[string]RemoveFile{}}
	if l.checkpoint >= 0 {
		keys := l.completeParts(l.checkpoint)
		if k, ok := l.classic[l.checkpoint]; ok {
			keys = []string{k}
		}
		for _, k := range keys {
			if err := readCheckpoint(ctx, store, k, r); err != nil {
				return nil, err
			}
		}
	}
	for v := first; v <= latest; v++ {
		b, _, err := store.Get(ctx, l.commits[v])
		if err != nil {
			return nil, err
		}
		actions, err := ParseCommit(b)
		if err != nil {
			return nil, fmt.Errorf("%w: commit %020d.json: %v", ErrCorrupt, v, err)
		}
		for _, a := range actions {
			r.apply(a)
		}
	}
	if r.protocol == nil || r.metadata == nil {
		return nil, fmt.Errorf("%w: no protocol or metaData action at version %d", ErrCorrupt, latest)
	}
	if err := CheckRead(*r.protocol); err != nil {
		return nil, err
	}
	schema, err := typemap.ParseDeltaSchema(r.metadata.SchemaString)
	if err != nil {
		return nil, fmt.Errorf("%w: schemaString: %v", ErrCorrupt, err)
	}
	return &Snapshot{
		Location:      table,
		Version:       latest,
		Protocol:      *r.protocol,
		Metadata:      *r.metadata,
		Schema:        schema,
		NumFiles:      len(r.files),
		Checkpoint:    l.checkpoint,
		ColumnMapping: ColumnMapping(*r.protocol, *r.metadata),
		Files:         r.liveFiles(),
		Txns:          r.txns,
		Tombstones:    r.tombstones(),
	}, nil
}

// Versions lists the commit versions present in the table's log, sorted (for tests and tools).
func Versions(ctx context.Context, store blob.Store, table string) ([]int64, error) {
	l, err := list(ctx, store, table)
	if err != nil {
		return nil, fmt.Errorf("deltalog: list table %s: %w", where(store, table), err)
	}
	vs := make([]int64, 0, len(l.commits))
	for v := range l.commits {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	return vs, nil
}

func (r *replay) liveFiles() []AddFile {
	out := make([]AddFile, 0, len(r.files))
	for _, f := range r.files {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func (r *replay) tombstones() []RemoveFile {
	out := make([]RemoveFile, 0, len(r.removed))
	for _, f := range r.removed {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
