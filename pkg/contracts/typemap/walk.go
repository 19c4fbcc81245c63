package typemap

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
)

// Full names of the messages that do not map as plain nested records.
const (
	nameTimestamp = "google.protobuf.Timestamp"
	nameDuration  = "google.protobuf.Duration"
	nameFieldMask = "google.protobuf.FieldMask"
	nameEmpty     = "google.protobuf.Empty"
	nameStruct    = "google.protobuf.Struct"
	nameValue     = "google.protobuf.Value"
	nameListValue = "google.protobuf.ListValue"
	nameAny       = "google.protobuf.Any"
	nameDate      = "google.type.Date"
)

// Errors a FieldError wraps, for callers (lint) that tell them apart with errors.Is.
var (
	// ErrRecursive: a message contains itself; warehouse tables cannot hold unbounded nesting.
	ErrRecursive = errors.New("recursive message")
	// ErrEmptyMessage: a record with no fields, which BigQuery and Delta both reject.
	ErrEmptyMessage = errors.New("message has no fields")
	// ErrNameConflict: two fields whose names differ only in case (BigQuery and Delta column
	// names are case-insensitive).
	ErrNameConflict = errors.New("field names differ only in case")
	// ErrUnsupported: a construct a sink cannot hold (too deep nesting, a reserved column name).
	ErrUnsupported = errors.New("unsupported")
)

// FieldError is a field of an event message that cannot be mapped.
type FieldError struct {
	Message protoreflect.FullName // the event message being mapped
	Path    string                // dotted path of proto field names from Message, e.g. "device.parts"
	Err     error                 // wraps one of the Err* values
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("typemap: %s: %v", e.Message, e.Err)
	}
	return fmt.Sprintf("typemap: %s: field %s: %v", e.Message, e.Path, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// msgKind says how a message-typed field maps.
type msgKind int

const (
	msgRecord    msgKind = iota // a plain message: a nested record/struct
	msgTimestamp                // google.protobuf.Timestamp: TIMESTAMP / timestamp
	msgDate                     // google.type.Date: DATE / date
	msgJSON                     // Struct, Value, ListValue, Any: one JSON document
	msgWrapper                  // google.protobuf.*Value wrappers: their scalar, nullable
)

func classify(md protoreflect.MessageDescriptor) msgKind {
	switch md.FullName() {
	case nameTimestamp:
		return msgTimestamp
	case nameDate:
		return msgDate
	case nameStruct, nameValue, nameListValue, nameAny:
		return msgJSON
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
		"google.protobuf.Int64Value", "google.protobuf.UInt64Value",
		"google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return msgWrapper
	}
	return msgRecord
}

// unwrap returns the field whose type decides fd's column type: the value field of a wrapper,
// else fd itself. Modes (repeated, required) always come from fd.
func unwrap(fd protoreflect.FieldDescriptor) protoreflect.FieldDescriptor {
	if fd.Kind() == protoreflect.MessageKind && classify(fd.Message()) == msgWrapper {
		return fd.Message().Fields().ByName("value")
	}
	return fd
}

// Check reports why md cannot be mapped to BigQuery, Delta and JSON Schema, or nil. Every mapping
// function calls it first; lint calls it to report the problem against the contract. The error
// is a *FieldError naming the field path, wrapping ErrRecursive, ErrEmptyMessage or
// ErrNameConflict.
func Check(md protoreflect.MessageDescriptor) error {
	return check(md, md, "", []protoreflect.FullName{md.FullName()})
}

func check(root, md protoreflect.MessageDescriptor, path string, stack []protoreflect.FullName) error {
	fail := func(p string, err error) error {
		return &FieldError{Message: root.FullName(), Path: p, Err: err}
	}
	fields := md.Fields()
	if fields.Len() == 0 {
		return fail(path, fmt.Errorf("%w: %s (BigQuery and Delta cannot hold an empty record)", ErrEmptyMessage, md.FullName()))
	}
	seen := make(map[string]string, fields.Len())
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		name := string(fd.Name())
		p := joinPath(path, name)
		if other, dup := seen[strings.ToLower(name)]; dup {
			return fail(p, fmt.Errorf("%w: %q and %q", ErrNameConflict, other, name))
		}
		seen[strings.ToLower(name)] = name
		sub := fd.Message()
		if fd.IsMap() {
			sub = fd.MapValue().Message()
		}
		if sub == nil || classify(sub) != msgRecord {
			continue
		}
		for _, s := range stack {
			if s == sub.FullName() {
				return fail(p, fmt.Errorf("%w: %s contains itself, and BigQuery and Delta tables cannot hold unbounded nesting", ErrRecursive, sub.FullName()))
			}
		}
		if err := check(root, sub, p, append(stack[:len(stack):len(stack)], sub.FullName())); err != nil {
			return err
		}
	}
	return nil
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// Description is the contract's description of a message, field or enum: its leading comment,
// with the single space after each comment marker removed; "" when there is none or when the
// descriptor was compiled without source info. Sinks use it for table descriptions.
func Description(d protoreflect.Descriptor) string {
	f := d.ParentFile()
	if f == nil {
		return ""
	}
	raw := f.SourceLocations().ByDescriptor(d).LeadingComments
	lines := strings.Split(raw, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimPrefix(l, " "), " \t\r")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// fieldRequired reports evctl's required option on fd.
func fieldRequired(fd protoreflect.FieldDescriptor) bool { return evoptions.FieldRequired(fd) }
