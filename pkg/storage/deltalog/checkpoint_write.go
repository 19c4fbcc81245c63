package deltalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/parquet-go/parquet-go"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// CheckpointKey is the key of the classic checkpoint of version v.
func CheckpointKey(table string, v int64) string {
	return path.Join(table, LogDir, fmt.Sprintf("%020d.checkpoint.parquet", v))
}

// WriteCheckpoint writes a classic single-file checkpoint of snap, the table's state at
// snap.Version as Read returns it: protocol, metaData, every txn and every live add (remove
// tombstones are left out: readers do not need them, and VACUUM falls back to its retention
// period). Then it points _last_checkpoint at it. A checkpoint that exists already is kept (two
// writers checkpointing one version write the same state).
func WriteCheckpoint(ctx context.Context, store blob.Store, table string, snap *Snapshot) error {
	rows := make([]CheckpointRow, 0, len(snap.Files)+len(snap.Txns)+2)
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

func ptr[T any](v T) *T { return &v }

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
