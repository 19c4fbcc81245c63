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

// CHRow is one line of the ClickHouse table in docs/type-mapping.md: a type and the column it
// gets on Debian's 18.16 server and on current servers (see CHFeatures for the versions).
type CHRow struct {
	YAML   string
	Proto  string
	Old    string // 18.16 (and anything before 20.1)
	Recent string // 22.1 and later
}

// CHRows returns the ClickHouse type table. Nullable(...) wraps a nullable field's column;
// lists are Array(...) (see the page for records, lists and maps).
func CHRows() []CHRow {
	return []CHRow{
		{"string", "string", "String", "String"},
		{"bool", "bool", "UInt8", "Bool"},
		{"int32", "int32", "Int32", "Int32"},
		{"int64", "int64", "Int64", "Int64"},
		{"uint32", "uint32", "UInt32", "UInt32"},
		{"uint64", "uint64", "UInt64", "UInt64"},
		{"float", "float", "Float32", "Float32"},
		{"double", "double", "Float64", "Float64"},
		{"bytes", "bytes", "String", "String"},
		{"timestamp", "google.protobuf.Timestamp", "DateTime('UTC') + <name>__nanos UInt32", "DateTime64(9, 'UTC')"},
		{"date", "google.type.Date", "Date", "Date"},
		{"enum", "enum", "Enum8('A' = 1, ...) (Enum16 past ±127; String past ±32767)", "as 18.16"},
		{"record", "message", "a column per field: <record>__<field>", "as 18.16"},
		{"repeated record", "repeated message", "Nested: <record>.<field> Array(...) columns", "as 18.16"},
		{"map", "map<K,V>", "Nested: <map>.key Array(K), <map>.value Array(V)", "Map(K, V)"},
		{"—", "sint32, sfixed32", "Int32", "Int32"},
		{"—", "sint64, sfixed64", "Int64", "Int64"},
		{"—", "fixed32", "UInt32", "UInt32"},
		{"—", "fixed64", "UInt64", "UInt64"},
		{"—", "google.protobuf.Int64Value and every wrapper", "Nullable(wrapped type)", "Nullable(wrapped type)"},
		{"—", "google.protobuf.Struct, Value, ListValue, Any", "String (protojson text)", "String (protojson text)"},
	}
}
