package deltalog

import (
	"fmt"
	"slices"
	"strings"
)

// Column mapping modes (table property delta.columnMapping.mode).
const (
	ColumnMappingKey  = "delta.columnMapping.mode"
	ColumnMappingNone = "none"
	ColumnMappingName = "name"
	ColumnMappingID   = "id"
)

// readerFeatures are the reader table features whose presence does not change what this package
// reads (protocol, metadata, the set of files): columnMapping renames columns in data files only,
// deletion vectors are part of the file key, which replay honours, and the others concern data.
// v2Checkpoint (UUID-named checkpoints, sidecars) and catalogManaged (commits outside
// _delta_log) would be misread, so they are not here.
var readerFeatures = []string{"columnMapping", "deletionVectors", "timestampNtz", "typeWidening", "typeWidening-preview", "vacuumProtocolCheck", "variantType", "variantType-preview"}

// writerFeatures are the writer features a metadata-only commit (a new schema, no data files)
// respects without further work. Features that constrain every commit (inCommitTimestamp,
// rowTracking, icebergCompat*, clustering, v2Checkpoint, catalogManaged) are absent: evctl
// refuses to write such tables rather than write an invalid commit.
var writerFeatures = []string{"appendOnly", "invariants", "checkConstraints", "generatedColumns", "allowColumnDefaults",
	"changeDataFeed", "columnMapping", "identityColumns", "deletionVectors", "timestampNtz", "domainMetadata",
	"vacuumProtocolCheck", "typeWidening", "typeWidening-preview", "variantType", "variantType-preview"}

// CheckRead returns an error wrapping ErrUnsupported when a reader of protocol p must implement
// something this package does not.
func CheckRead(p Protocol) error {
	switch {
	case p.MinReaderVersion < 1:
		return fmt.Errorf("%w: minReaderVersion %d is not a valid reader version", ErrUnsupported, p.MinReaderVersion)
	case p.MinReaderVersion > 3:
		return fmt.Errorf("%w: the table needs reader version %d; evctl reads versions 1 to 3", ErrUnsupported, p.MinReaderVersion)
	case p.MinReaderVersion == 3:
		if bad := unknown(p.ReaderFeatures, readerFeatures); len(bad) > 0 {
			return fmt.Errorf("%w: the table needs reader features evctl does not implement: %s", ErrUnsupported, strings.Join(bad, ", "))
		}
	}
	return nil
}

// CheckWrite returns an error wrapping ErrUnsupported when a writer of protocol p must implement
// something a metadata-only commit from this package does not. It includes CheckRead: writers
// read first.
func CheckWrite(p Protocol) error {
	if err := CheckRead(p); err != nil {
		return err
	}
	switch {
	case p.MinWriterVersion < 1:
		return fmt.Errorf("%w: minWriterVersion %d is not a valid writer version", ErrUnsupported, p.MinWriterVersion)
	case p.MinWriterVersion > 7:
		return fmt.Errorf("%w: the table needs writer version %d; evctl writes versions 1 to 7", ErrUnsupported, p.MinWriterVersion)
	case p.MinWriterVersion == 7:
		if bad := unknown(p.WriterFeatures, writerFeatures); len(bad) > 0 {
			return fmt.Errorf("%w: the table needs writer features evctl does not implement: %s", ErrUnsupported, strings.Join(bad, ", "))
		}
	}
	return nil
}

// ColumnMapping returns the table's column mapping mode: "none" unless the protocol supports
// column mapping (reader version 2, or the columnMapping feature) and the property sets it.
func ColumnMapping(p Protocol, md Metadata) string {
	supported := p.MinReaderVersion == 2 || (p.MinReaderVersion == 3 && slices.Contains(p.ReaderFeatures, "columnMapping")) ||
		(p.MinWriterVersion >= 5 && p.MinWriterVersion <= 6) || (p.MinWriterVersion == 7 && slices.Contains(p.WriterFeatures, "columnMapping"))
	mode := md.Configuration[ColumnMappingKey]
	if !supported || mode == "" {
		return ColumnMappingNone
	}
	return mode
}

func unknown(have, known []string) []string {
	var bad []string
	for _, f := range have {
		if !slices.Contains(known, f) {
			bad = append(bad, f)
		}
	}
	return bad
}
