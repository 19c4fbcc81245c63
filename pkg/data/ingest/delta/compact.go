package delta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// CompactOptions tune Compact.
type CompactOptions struct {
	// SmallBytes: files below this size are rewritten (default 64 MiB).
	SmallBytes int64
	// Now is the clock of the commit (default time.Now).
	Now func() time.Time
}

// CompactResult says what Compact did.
type CompactResult struct {
	Version  int64  `json:"version"` // the compaction commit, or the table's version when nothing was done
	Removed  int    `json:"files_removed"`
	Added    int    `json:"files_added"`
	Rows     int64  `json:"rows_rewritten"`
	Nothing  bool   `json:"nothing_to_do"`
	Location string `json:"location"`
}

// ErrCompactConflict: a concurrent commit removed a file the compaction rewrote; nothing was
// committed (run it again).
var ErrCompactConflict = errors.New("delta: compaction conflict")

// Compact rewrites the small files of each partition (those sharing one Parquet schema) into one
// file, committed as remove + add actions with dataChange false, so streaming readers and the
// txn versions are unaffected. Statistics of the new file merge those of the files it replaces.
// A concurrent append is fine (the commit retries at the next version); a concurrent commit that
// removed one of the rewritten files is ErrCompactConflict.
func Compact(ctx context.Context, store blob.Store, location string, o CompactOptions) (CompactResult, error) {
	if o.SmallBytes <= 0 {
		o.SmallBytes = 64 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	snap, err := deltalog.Read(ctx, store, location)
	if err != nil {
		return CompactResult{}, fmt.Errorf("delta: compact: %w", err)
	}
	if err := writable(snap); err != nil {
		return CompactResult{}, err
	}
	res := CompactResult{Version: snap.Version, Location: location}
	groups := map[string][]deltalog.AddFile{}
	for _, f := range snap.Files {
		if f.Size < o.SmallBytes && f.DeletionVector == nil {
			k := partitionKey(f.PartitionValues)
			groups[k] = append(groups[k], f)
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	now := o.Now().UnixMilli()
	var actions []deltalog.Action
	removed := map[string]bool{}
	for _, k := range keys {
		files := groups[k]
		if len(files) < 2 {
			continue
		}
		add, rows, err := rewrite(ctx, store, location, files, now)
		if err != nil {
			return res, err
		}
		for _, f := range files {
			size := f.Size
			actions = append(actions, deltalog.Action{Remove: &deltalog.RemoveFile{Path: f.Path, DeletionTimestamp: &now, DataChange: false,
				ExtendedFileMetadata: true, PartitionValues: f.PartitionValues, Size: &size}})
			removed[f.Path] = true
		}
		actions = append(actions, deltalog.Action{Add: add})
		res.Removed += len(files)
		res.Added++
		res.Rows += rows
	}
	if len(actions) == 0 {
		res.Nothing = true
		return res, nil
	}
	actions = append(actions, deltalog.Action{CommitInfo: map[string]any{"timestamp": now, "operation": "OPTIMIZE", "engineInfo": "evctl",
		"operationParameters": map[string]any{"predicate": "[]"}, "isBlindAppend": false}})
	v := snap.Version + 1
	for {
		err := deltalog.Commit(ctx, store, location, v, actions)
		if err == nil {
			res.Version = v
			return res, nil
		}
		if !errors.Is(err, deltalog.ErrConflict) {
			return res, err
		}
		b, _, err := store.Get(ctx, deltalog.CommitKey(location, v))
		if err != nil {
			return res, fmt.Errorf("delta: compact: read concurrent commit %d: %w", v, err)
		}
		other, err := deltalog.ParseCommit(b)
		if err != nil {
			return res, fmt.Errorf("delta: compact: concurrent commit %d: %w", v, err)
		}
		for _, a := range other {
			if a.Remove != nil && removed[a.Remove.Path] {
				return res, fmt.Errorf("%w: version %d removed %s", ErrCompactConflict, v, a.Remove.Path)
			}
			if a.MetaData != nil || a.Protocol != nil {
				return res, fmt.Errorf("%w: version %d changed the table's metadata", ErrCompactConflict, v)
			}
		}
		v++
	}
}

func partitionKey(pv map[string]string) string {
	keys := make([]string, 0, len(pv))
	for k := range pv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + pv[k] + "\x00")
	}
	return b.String()
}

// rewrite copies the rows of files (one partition) into one new file. Files of another Parquet
// schema than the first are refused: compaction never converts rows.
func rewrite(ctx context.Context, store blob.Store, location string, files []deltalog.AddFile, now int64) (*deltalog.AddFile, int64, error) {
	var out bytes.Buffer
	var w *parquet.Writer
	var schema *parquet.Schema
	var total int64
	stats := make([]string, 0, len(files))
	for _, f := range files {
		b, _, err := store.Get(ctx, location+"/"+f.Path)
		if err != nil {
			return nil, 0, fmt.Errorf("delta: compact: %w", err)
		}
		pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, 0, fmt.Errorf("delta: compact: %s: %w", f.Path, err)
		}
		if schema == nil {
			schema = pf.Schema()
			w = parquet.NewWriter(&out, schema, parquet.Compression(&parquet.Zstd), parquet.CreatedBy("evctl", "", ""))
		} else if !parquet.EqualNodes(schema, pf.Schema()) {
			return nil, 0, fmt.Errorf("delta: compact: %s has another schema than %s; run compact again after the partition's files share one", f.Path, files[0].Path)
		}
		r := parquet.NewReader(pf)
		n, err := parquet.CopyRows(w, r)
		r.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("delta: compact: copy %s: %w", f.Path, err)
		}
		total += n
		stats = append(stats, f.Stats)
	}
	if err := w.Close(); err != nil {
		return nil, 0, fmt.Errorf("delta: compact: %w", err)
	}
	dir := files[0].Path[:strings.LastIndex(files[0].Path, "/")+1]
	rel := dir + "part-00000-" + uuid.NewString() + "-c000.zstd.parquet"
	if _, err := store.Put(ctx, location+"/"+rel, out.Bytes(), blob.PutOpts{IfNotExist: true}); err != nil {
		return nil, 0, fmt.Errorf("delta: compact: %w", err)
	}
	return &deltalog.AddFile{Path: rel, PartitionValues: files[0].PartitionValues, Size: int64(out.Len()), ModificationTime: now,
		DataChange: false, Stats: mergeStats(stats, total)}, total, nil
}

// mergeStats combines the stats of the replaced files: min of mins, max of maxes, sums of null
// counts. A column missing from any file's stats is left out (unknown).
func mergeStats(all []string, rows int64) string {
	type st struct {
		NumRecords int64            `json:"numRecords"`
		MinValues  map[string]any   `json:"minValues"`
		MaxValues  map[string]any   `json:"maxValues"`
		NullCount  map[string]int64 `json:"nullCount"`
	}
	out := st{NumRecords: rows, MinValues: map[string]any{}, MaxValues: map[string]any{}, NullCount: map[string]int64{}}
	for i, s := range all {
		var cur st
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber() // int64 and decimal(20,0) bounds must not round through float64
		if dec.Decode(&cur) != nil {
			return fmt.Sprintf(`{"numRecords":%d}`, rows)
		}
		if i == 0 {
			out.MinValues, out.MaxValues, out.NullCount = cur.MinValues, cur.MaxValues, cur.NullCount
			continue
		}
		for k, v := range out.MinValues {
			if c, ok := cur.MinValues[k]; !ok {
				delete(out.MinValues, k)
			} else if cmpAny(c, v) < 0 {
				out.MinValues[k] = c
			}
		}
		for k, v := range out.MaxValues {
			if c, ok := cur.MaxValues[k]; !ok {
				delete(out.MaxValues, k)
			} else if cmpAny(c, v) > 0 {
				out.MaxValues[k] = c
			}
		}
		for k, v := range out.NullCount {
			if c, ok := cur.NullCount[k]; ok {
				out.NullCount[k] = v + c
			} else {
				delete(out.NullCount, k)
			}
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func cmpAny(a, b any) int {
	switch x := a.(type) {
	case json.Number:
		if y, ok := b.(json.Number); ok {
			rx, okx := new(big.Rat).SetString(string(x))
			ry, oky := new(big.Rat).SetString(string(y))
			if okx && oky {
				return rx.Cmp(ry)
			}
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	}
	return 0
}
