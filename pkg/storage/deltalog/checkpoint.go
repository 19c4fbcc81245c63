package deltalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// CheckpointRow is one row of a V1 checkpoint: exactly one action column is non-null. It holds
// the columns replay needs; parquet-go converts the file's schema (Spark writes every column
// optional, lists and maps in the three-level form) to this one by column path, and columns not
// named here (txn, domainMetadata, stats, tags) are skipped. Exported so tests can write
// checkpoints with the same shape.
type CheckpointRow struct {
	Add      *CheckpointFile     `parquet:"add,optional"`
	Remove   *CheckpointRemove   `parquet:"remove,optional"`
	MetaData *CheckpointMetadata `parquet:"metaData,optional"`
	Protocol *CheckpointProtocol `parquet:"protocol,optional"`
	Txn      *CheckpointTxn      `parquet:"txn,optional"`
}

// CheckpointTxn is the txn column.
type CheckpointTxn struct {
	AppID       *string `parquet:"appId,optional"`
	Version     *int64  `parquet:"version,optional"`
	LastUpdated *int64  `parquet:"lastUpdated,optional"`
}

// CheckpointFile is the add or remove column: the logical file's key, and for add what a reader
// of the live files needs.
type CheckpointFile struct {
	Path             *string           `parquet:"path,optional"`
	PartitionValues  map[string]string `parquet:"partitionValues,optional"`
	Size             *int64            `parquet:"size,optional"`
	ModificationTime *int64            `parquet:"modificationTime,optional"`
	DataChange       *bool             `parquet:"dataChange,optional"`
	Stats            *string           `parquet:"stats,optional"`
	DeletionVector   *CheckpointDV     `parquet:"deletionVector,optional"`
}

// CheckpointRemove is the remove column: a tombstone, kept by checkpoints until the table's
// deletedFileRetentionDuration has passed since its deletionTimestamp.
type CheckpointRemove struct {
	Path                 *string           `parquet:"path,optional"`
	DeletionTimestamp    *int64            `parquet:"deletionTimestamp,optional"`
	DataChange           *bool             `parquet:"dataChange,optional"`
	ExtendedFileMetadata *bool             `parquet:"extendedFileMetadata,optional"`
	PartitionValues      map[string]string `parquet:"partitionValues,optional"`
	Size                 *int64            `parquet:"size,optional"`
	DeletionVector       *CheckpointDV     `parquet:"deletionVector,optional"`
}

// CheckpointDV identifies a deletion vector.
type CheckpointDV struct {
	StorageType    *string `parquet:"storageType,optional"`
	PathOrInlineDv *string `parquet:"pathOrInlineDv,optional"`
	Offset         *int32  `parquet:"offset,optional"`
}

// CheckpointFormat is metaData.format.
type CheckpointFormat struct {
	Provider *string           `parquet:"provider,optional"`
	Options  map[string]string `parquet:"options,optional"`
}

// CheckpointMetadata is the metaData column.
type CheckpointMetadata struct {
	ID               *string           `parquet:"id,optional"`
	Name             *string           `parquet:"name,optional"`
	Description      *string           `parquet:"description,optional"`
	Format           *CheckpointFormat `parquet:"format,optional"`
	SchemaString     *string           `parquet:"schemaString,optional"`
	PartitionColumns []string          `parquet:"partitionColumns,optional,list"`
	Configuration    map[string]string `parquet:"configuration,optional"`
	CreatedTime      *int64            `parquet:"createdTime,optional"`
}

// CheckpointProtocol is the protocol column.
type CheckpointProtocol struct {
	MinReaderVersion *int32   `parquet:"minReaderVersion,optional"`
	MinWriterVersion *int32   `parquet:"minWriterVersion,optional"`
	ReaderFeatures   []string `parquet:"readerFeatures,optional,list"`
	WriterFeatures   []string `parquet:"writerFeatures,optional,list"`
}

// readCheckpoint replays one checkpoint file (or one part) into r.
func readCheckpoint(ctx context.Context, store blob.Store, key string, r *replay) error {
	b, _, err := store.Get(ctx, key)
	if err != nil {
		return err
	}
	rows, err := decodeCheckpoint(b)
	if err != nil {
		return fmt.Errorf("%w: checkpoint %s: %v", ErrCorrupt, key, err)
	}
	for _, row := range rows {
		a, err := row.action()
		if err != nil {
			return fmt.Errorf("%w: checkpoint %s: %v", ErrCorrupt, key, err)
		}
		r.apply(a)
	}
	return nil
}

// decodeCheckpoint reads every row of a checkpoint Parquet file. parquet-go panics on some
// schema mismatches; a panic becomes an error, never a crash of the caller.
func decodeCheckpoint(b []byte) (rows []CheckpointRow, err error) {
	defer func() {
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("parquet: %v", p)
		}
	}()
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	for _, rg := range f.RowGroups() {
		rr := parquet.NewGenericRowGroupReader[CheckpointRow](rg)
		buf := make([]CheckpointRow, 64)
		for {
			n, err := rr.Read(buf)
			rows = append(rows, buf[:n]...)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rr.Close()
				return nil, err
			}
			clear(buf)
		}
		if err := rr.Close(); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

func (row CheckpointRow) action() (Action, error) {
	switch {
	case row.Protocol != nil:
		p := row.Protocol
		if p.MinReaderVersion == nil || p.MinWriterVersion == nil {
			return Action{}, errors.New("protocol row without reader or writer version")
		}
		return Action{Protocol: &Protocol{MinReaderVersion: int(*p.MinReaderVersion), MinWriterVersion: int(*p.MinWriterVersion),
			ReaderFeatures: p.ReaderFeatures, WriterFeatures: p.WriterFeatures}}, nil
	case row.MetaData != nil:
		m := row.MetaData
		if m.ID == nil || m.SchemaString == nil {
			return Action{}, errors.New("metaData row without id or schemaString")
		}
		md := &Metadata{ID: *m.ID, Name: deref(m.Name), Description: deref(m.Description), SchemaString: *m.SchemaString,
			PartitionColumns: m.PartitionColumns, Configuration: m.Configuration, CreatedTime: m.CreatedTime}
		if md.PartitionColumns == nil {
			md.PartitionColumns = []string{}
		}
		if md.Configuration == nil {
			md.Configuration = map[string]string{}
		}
		if m.Format != nil {
			md.Format = Format{Provider: deref(m.Format.Provider), Options: m.Format.Options}
		}
		return Action{MetaData: md}, nil
	case row.Add != nil && row.Add.Path != nil:
		a := row.Add
		f := &AddFile{Path: *a.Path, PartitionValues: a.PartitionValues, Stats: deref(a.Stats), DeletionVector: a.DeletionVector.dv()}
		if a.Size != nil {
			f.Size = *a.Size
		}
		if a.ModificationTime != nil {
			f.ModificationTime = *a.ModificationTime
		}
		if f.PartitionValues == nil {
			f.PartitionValues = map[string]string{}
		}
		return Action{Add: f}, nil
	case row.Remove != nil && row.Remove.Path != nil:
		rm := row.Remove
		f := &RemoveFile{Path: *rm.Path, DeletionTimestamp: rm.DeletionTimestamp, DeletionVector: rm.DeletionVector.dv(),
			PartitionValues: rm.PartitionValues, Size: rm.Size}
		if rm.ExtendedFileMetadata != nil {
			f.ExtendedFileMetadata = *rm.ExtendedFileMetadata
		}
		return Action{Remove: f}, nil
	case row.Txn != nil && row.Txn.AppID != nil && row.Txn.Version != nil:
		return Action{Txn: &Txn{AppID: *row.Txn.AppID, Version: *row.Txn.Version, LastUpdated: row.Txn.LastUpdated}}, nil
	}
	return Action{}, nil // domainMetadata: not needed
}

func (d *CheckpointDV) dv() *DeletionVector {
	if d == nil || d.StorageType == nil {
		return nil
	}
	return &DeletionVector{StorageType: *d.StorageType, PathOrInlineDv: deref(d.PathOrInlineDv), Offset: d.Offset}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
