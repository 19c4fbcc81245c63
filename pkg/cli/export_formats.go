package cli

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/typemap"
)

// exportAs renders one compiled event in the requested form.
func exportAs(format string, source []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	switch format {
	case "proto":
		return source, nil
	case "bigquery":
		return typemap.BigQueryJSON(md)
	case "delta":
		s, err := typemap.DeltaSchemaString(md)
		if err != nil {
			return nil, err
		}
		// The schemaString of a Delta metaData action is compact JSON; it is printed as is so it
		// can be pasted into a commit, with a newline for the terminal.
		return []byte(s + "\n"), nil
	case "jsonschema":
		return typemap.JSONSchema(md)
	}
	return nil, fmt.Errorf("export: unknown format %q (proto, bigquery, delta or jsonschema)", format)
}
