package deltalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Errors that Read and Commit wrap. Test for them with errors.Is.
var (
	// ErrNoTable: the location has no _delta_log, so no table.
	ErrNoTable = errors.New("no delta table")
	// ErrUnsupported: the table needs a protocol version or table feature this package does
	// not implement; reading or writing it anyway could misread or corrupt it.
	ErrUnsupported = errors.New("unsupported delta protocol")
	// ErrCorrupt: the log cannot be replayed (bad JSON, a gap in versions, a missing action).
	ErrCorrupt = errors.New("corrupt delta log")
	// ErrConflict: the version a Commit tried to write exists: another writer committed first.
	ErrConflict = errors.New("delta commit conflict")
)

// Protocol is the protocol action.
type Protocol struct {
	MinReaderVersion int      `json:"minReaderVersion"`
	MinWriterVersion int      `json:"minWriterVersion"`
	ReaderFeatures   []string `json:"readerFeatures,omitempty"`
	WriterFeatures   []string `json:"writerFeatures,omitempty"`
}

// Format is the metaData format struct.
type Format struct {
	Provider string            `json:"provider"`
	Options  map[string]string `json:"options"`
}

// Metadata is the metaData action.
type Metadata struct {
	ID               string            `json:"id"`
	Name             string            `json:"name,omitempty"`
	Description      string            `json:"description,omitempty"`
	Format           Format            `json:"format"`
	SchemaString     string            `json:"schemaString"`
	PartitionColumns []string          `json:"partitionColumns"`
	Configuration    map[string]string `json:"configuration"`
	CreatedTime      *int64            `json:"createdTime,omitempty"`
}

// DeletionVector is the part of a deletion vector descriptor that identifies it.
type DeletionVector struct {
	StorageType    string `json:"storageType"`
	PathOrInlineDv string `json:"pathOrInlineDv"`
	Offset         *int32 `json:"offset,omitempty"`
	SizeInBytes    int32  `json:"sizeInBytes"`
	Cardinality    int64  `json:"cardinality"`
}

// UniqueID is the protocol's derived uniqueId: storage type and path, plus "@offset" if any.
func (dv *DeletionVector) UniqueID() string {
	if dv == nil {
		return ""
	}
	if dv.Offset != nil {
		return fmt.Sprintf("%s%s@%d", dv.StorageType, dv.PathOrInlineDv, *dv.Offset)
	}
	return dv.StorageType + dv.PathOrInlineDv
}

// AddFile is the add action (the fields this package needs, plus what a writer must give).
type AddFile struct {
	Path             string            `json:"path"`
	PartitionValues  map[string]string `json:"partitionValues"`
	Size             int64             `json:"size"`
	ModificationTime int64             `json:"modificationTime"`
	DataChange       bool              `json:"dataChange"`
	// Stats is the JSON statistics string (numRecords, minValues, maxValues, nullCount).
	Stats          string            `json:"stats,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	DeletionVector *DeletionVector   `json:"deletionVector,omitempty"`
}

// RemoveFile is the remove action.
type RemoveFile struct {
	Path              string `json:"path"`
	DeletionTimestamp *int64 `json:"deletionTimestamp,omitempty"`
	DataChange        bool   `json:"dataChange"`
	// ExtendedFileMetadata says PartitionValues and Size are present (writers set it).
	ExtendedFileMetadata bool              `json:"extendedFileMetadata,omitempty"`
	PartitionValues      map[string]string `json:"partitionValues,omitempty"`
	Size                 *int64            `json:"size,omitempty"`
	DeletionVector       *DeletionVector   `json:"deletionVector,omitempty"`
}

// Txn is the transaction identifier action: the newest Version an application (AppID) wrote to
// the table. Writers use it for idempotent, exactly-once appends.
type Txn struct {
	AppID       string `json:"appId"`
	Version     int64  `json:"version"`
	LastUpdated *int64 `json:"lastUpdated,omitempty"`
}

// Action is one line of a commit: exactly one field is set. Actions this package does not know
// (cdc, domainMetadata, ...) decode as an empty Action and are ignored, as the protocol
// requires of readers.
type Action struct {
	CommitInfo map[string]any `json:"commitInfo,omitempty"`
	Protocol   *Protocol      `json:"protocol,omitempty"`
	MetaData   *Metadata      `json:"metaData,omitempty"`
	Add        *AddFile       `json:"add,omitempty"`
	Remove     *RemoveFile    `json:"remove,omitempty"`
	Txn        *Txn           `json:"txn,omitempty"`
}

// fileKey is the reconciliation key of a logical file: (path, deletion vector unique id).
func fileKey(path string, dv *DeletionVector) string { return path + "\x00" + dv.UniqueID() }

// ParseCommit decodes a commit file: newline-delimited JSON, one action per line. Blank lines
// are skipped. A line that is not one complete JSON object is an error naming the line.
func ParseCommit(data []byte) ([]Action, error) {
	var out []Action
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var a Action
		dec := json.NewDecoder(bytes.NewReader(line))
		if err := dec.Decode(&a); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("line %d: more than one JSON value", i+1)
		}
		out = append(out, a)
	}
	return out, nil
}

// EncodeCommit serializes actions as a commit file: one compact JSON object per line, each line
// ending in a newline. Metadata maps and lists are written as {} and [] rather than null.
func EncodeCommit(actions []Action) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, a := range actions {
		if m := a.MetaData; m != nil {
			c := *m
			if c.PartitionColumns == nil {
				c.PartitionColumns = []string{}
			}
			if c.Configuration == nil {
				c.Configuration = map[string]string{}
			}
			if c.Format.Options == nil {
				c.Format.Options = map[string]string{}
			}
			a.MetaData = &c
		}
		if err := enc.Encode(a); err != nil {
			return nil, fmt.Errorf("deltalog: encode commit: %w", err)
		}
	}
	return buf.Bytes(), nil
}
