package deltalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// CheckpointKey is the key of the classic checkpoint of version v.
func CheckpointKey(table string, v int64) string {
	return path.Join(table, LogDir, fmt.Sprintf("%020d.checkpoint.parquet", v))
}

// WriteCheckpoint writes a classic single-file checkpoint of snap, the table's state at
// snap.Version as Read returns it: protocol, metaData, every txn, every live add and, as the
// protocol asks, the remove tombstones that have not expired (deletionTimestamp within the
// table's delta.deletedFileRetentionDuration, default one week, of now; a tombstone without a
// timestamp is kept), so VACUUM does not delete files a reader of an older version may still
// read. Then it points _last_checkpoint at it. A checkpoint that exists already is kept (two
// writers checkpointing one version write the same state).
func WriteCheckpoint(ctx context.Context, store blob.Store, table string, snap *Snapshot) error {
	return writeCheckpoint(ctx, store, table, snap, time.Now())
}

func writeCheckpoint(ctx context.Context, store blob.Store, table string, snap *Snapshot, now time.Time) error {
	rows := make([]CheckpointRow, 0, len(snap.Files)+len(snap.Txns)+len(snap.Tombstones)+2)
	p := snap.Protocol
	rows = append(rows, CheckpointRow{Protocol: &CheckpointProtocol{MinReaderVersion: ptr(int32(p.MinReaderVersion)),
		MinWriterVersion: ptr(int32(p.MinWriterVersion)), ReaderFeatures: p.ReaderFeatures, WriterFeatures: p.WriterFeatures}})
	m := snap.Metadata
	rows = append(rows, CheckpointRow{MetaData: &CheckpointMetadata{ID: &m.ID, Name: nilIfEmpty(m.Name), Description: nilIfEmpty(m.Description),
		Format:       &CheckpointFormat{Provider: &m.Format.Provider, Options: m.Format.Options},
		SchemaString: &m.SchemaString, PartitionColumns: m.PartitionColumns, Configuration: m.Configuration, CreatedTime: m.CreatedTime}})
	apps := make([]string, 0, len(snap.Txns))
	for a := range snap.Txns {
		apps = append(apps, a)
	}
	sort.Strings(apps)
	for _, a := range apps {
		rows = append(rows, CheckpointRow{Txn: &CheckpointTxn{AppID: ptr(a), Version: ptr(snap.Txns[a])}})
	}
	for _, f := range snap.Files {
		if f.DeletionVector != nil {
			return fmt.Errorf("deltalog: checkpoint %s: %w: files with deletion vectors", where(store, table), ErrUnsupported)
		}
		rows = append(rows, CheckpointRow{Add: &CheckpointFile{Path: ptr(f.Path), PartitionValues: f.PartitionValues, Size: ptr(f.Size),
			ModificationTime: ptr(f.ModificationTime), DataChange: ptr(false), Stats: nilIfEmpty(f.Stats)}})
	}
	cutoff := now.Add(-retention(snap.Metadata.Configuration)).UnixMilli()
	for _, f := range snap.Tombstones {
		if f.DeletionTimestamp != nil && *f.DeletionTimestamp < cutoff {
			continue // expired: VACUUM may delete the file already
		}
		rm := &CheckpointRemove{Path: ptr(f.Path), DeletionTimestamp: f.DeletionTimestamp, DataChange: ptr(false),
			PartitionValues: f.PartitionValues, Size: f.Size}
		if f.ExtendedFileMetadata {
			rm.ExtendedFileMetadata = ptr(true)
		}
		if dv := f.DeletionVector; dv != nil {
			rm.DeletionVector = &CheckpointDV{StorageType: ptr(dv.StorageType), PathOrInlineDv: ptr(dv.PathOrInlineDv), Offset: dv.Offset}
		}
		rows = append(rows, CheckpointRow{Remove: rm})
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[CheckpointRow](&buf)
	if _, err := w.Write(rows); err != nil {
		return fmt.Errorf("deltalog: checkpoint %s: %w", where(store, table), err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("deltalog: checkpoint %s: %w", where(store, table), err)
	}
	_, err := store.Put(ctx, CheckpointKey(table, snap.Version), buf.Bytes(), blob.PutOpts{IfNotExist: true})
	if err != nil && !errors.Is(err, blob.ErrPrecondition) {
		return fmt.Errorf("deltalog: checkpoint %s: %w", where(store, table), err)
	}
	last, _ := json.Marshal(map[string]int64{"version": snap.Version, "size": int64(len(rows))})
	if _, err := store.Put(ctx, path.Join(table, LogDir, lastCheckpointName), last, blob.PutOpts{}); err != nil {
		return fmt.Errorf("deltalog: checkpoint %s: %w", where(store, table), err)
	}
	return nil
}

// DefaultDeletedFileRetention is delta.deletedFileRetentionDuration's default.
const DefaultDeletedFileRetention = 7 * 24 * time.Hour

// retention is the table's delta.deletedFileRetentionDuration ("interval 1 week", "interval 36
// hours"; units second to week). A value it cannot read keeps the default.
func retention(conf map[string]string) time.Duration {
	v, ok := conf["delta.deletedFileRetentionDuration"]
	if !ok {
		return DefaultDeletedFileRetention
	}
	f := strings.Fields(strings.ToLower(v))
	if len(f) == 3 && f[0] == "interval" {
		f = f[1:]
	}
	if len(f) != 2 {
		return DefaultDeletedFileRetention
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n < 0 {
		return DefaultDeletedFileRetention
	}
	units := map[string]time.Duration{"second": time.Second, "minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour, "week": 7 * 24 * time.Hour}
	u, ok := units[strings.TrimSuffix(f[1], "s")]
	if !ok {
		return DefaultDeletedFileRetention
	}
	if n > int64(math.MaxInt64/u) {
		return math.MaxInt64 // longer than time can say: every tombstone is kept
	}
	return time.Duration(n) * u
}

func ptr[T any](v T) *T { return &v }

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
