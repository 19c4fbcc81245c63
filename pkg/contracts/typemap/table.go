package typemap

// Row is one line of the type table in docs/type-mapping.md: an evctl YAML field type (or, for
// types only raw .proto contracts use, "—"), the proto type it is written as, and what it maps to.
// The BigQuery and Delta cells of scalar rows are exactly what BigQuery and Delta return; tests
// hold both the mapping and the page to this table.
type Row struct {
	YAML       string // type in contracts/<domain>/<event>.yaml
	Proto      string // type in the effective .proto
	BigQuery   string // column type (mode from the field's mode, see docs)
	Delta      string // type in the Delta schemaString
	JSONSchema string // what the JSON Schema accepts (protojson)
}

// Rows returns the type table, YAML types first (in the order SPEC.md lists them), then the
// types only raw contracts use.
func Rows() []Row {
	return []Row{
		{"string", "string", BQString, DeltaString, "string"},
		{"bool", "bool", BQBoolean, DeltaBoolean, "boolean"},
		{"int32", "int32", BQInteger, DeltaInteger, "integer in int32 range"},
		{"int64", "int64", BQInteger, DeltaLong, "integer, or string of digits"},
		{"uint32", "uint32", BQInteger, DeltaLong, "integer 0..4294967295"},
		{"uint64", "uint64", BQNumeric, DeltaUint64, "integer ≥ 0, or string of digits"},
		{"float", "float", BQFloat, DeltaFloat, "number in float32 range, or \"NaN\", \"Infinity\", \"-Infinity\""},
		{"double", "double", BQFloat, DeltaDouble, "number, or \"NaN\", \"Infinity\", \"-Infinity\""},
		{"bytes", "bytes", BQBytes, DeltaBinary, "base64 string"},
		{"timestamp", "google.protobuf.Timestamp", BQTimestamp, DeltaTimestamp, "RFC 3339 string (format date-time)"},
		{"date", "google.type.Date", BQDate, DeltaDate, "object {year, month, day}"},
		{"enum", "enum", BQString, DeltaString, "value name, or its number"},
		{"record", "message", BQRecord, "struct", "object, a $defs entry"},
		{"map", "map<K,V>", "REPEATED RECORD{key,value}", "map", "object; keys are strings, values V"},
		{"—", "sint32, sfixed32", BQInteger, DeltaInteger, "integer in int32 range"},
		{"—", "sint64, sfixed64", BQInteger, DeltaLong, "integer, or string of digits"},
		{"—", "fixed32", BQInteger, DeltaLong, "integer 0..4294967295"},
		{"—", "fixed64", BQNumeric, DeltaUint64, "integer ≥ 0, or string of digits"},
		{"—", "google.protobuf.Int64Value and every wrapper", "as the wrapped type", "as the wrapped type", "as the wrapped type"},
		{"—", "google.protobuf.Struct, Value, ListValue, Any", BQJSON, DeltaString, "object; any JSON; array; object with @type"},
		{"—", "google.protobuf.Duration", BQRecord + "{seconds,nanos}", "struct{seconds,nanos}", "string like \"1.5s\""},
		{"—", "google.protobuf.FieldMask", BQRecord + "{paths}", "struct{paths}", "string \"a.b,c\""},
		{"—", "oneof", "one NULLABLE column per member", "one nullable column per member", "at most one member present"},
	}
}
