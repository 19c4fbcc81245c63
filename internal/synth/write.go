package synth

import (
	"fmt"
	"strings"
)

// yamlEvent renders an event's contract YAML.
func yamlEvent(ev *event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ndomain: %s\nowner: {team: %s, pod: %s}\n", ev.name, ev.dom.name, ev.dom.team, ev.dom.pod)
	fmt.Fprintf(&b, "description: %q\nstage: %s\nmajor: 1\nschema:\n", ev.desc, ev.stage)
	if ev.raw {
		fmt.Fprintf(&b, "  proto: {file: %s.proto, message: %s}\n", ev.name, ev.message())
	} else {
		b.WriteString("  fields:\n")
		yamlFields(&b, ev.fields, "    ")
		b.WriteString("  reserved: [9000, 9001-9005, retired_field]\n")
	}
	key := ev.fields[0].name
	fmt.Fprintf(&b, "sinks:\n  kafka: {partitions: 12, retention: 7d, key: [%s], configs: {compression.type: zstd}}\n", key)
	fmt.Fprintf(&b, "  bigquery: {partition_by: event_time, cluster_by: [user_id, %s]}\n", key)
	b.WriteString("  delta: {partition_by: [event_date]}\n")
	b.WriteString("ingestion: {mode: streaming}\n")
	fmt.Fprintf(&b, "access: {producers: [%s], consumers: [analytics, ml]}\n", ev.dom.team)
	b.WriteString("examples:\n")
	fmt.Fprintf(&b, "  - {%s: x1, duration_ms: 1200, kind: %s, event_id: e1, event_time: \"2026-11-01T10:00:00Z\"}\n",
		key, ev.fields[2].values[0])
	fmt.Fprintf(&b, "  - {%s: x2, event_id: e2, event_time: \"2026-11-01T10:00:01Z\", app: synth}\n", key)
	return b.String()
}

func yamlFields(b *strings.Builder, fs []field, indent string) {
	for _, f := range fs {
		var parts []string
		parts = append(parts, "name: "+f.name, "type: "+f.typ)
		if f.mode != "" {
			parts = append(parts, "mode: "+f.mode)
		}
		parts = append(parts, fmt.Sprintf("number: %d", f.num))
		if f.typ == "enum" {
			parts = append(parts, "values: ["+strings.Join(f.values, ", ")+"]")
		}
		if f.typ == "map" {
			parts = append(parts, "key_type: "+f.key, "value_type: "+f.val)
		}
		if f.desc != "" {
			parts = append(parts, fmt.Sprintf("description: %q", f.desc))
		}
		if f.typ != "record" {
			fmt.Fprintf(b, "%s- {%s}\n", indent, strings.Join(parts, ", "))
			continue
		}
		// Records in block style, as people write nested schemas.
		fmt.Fprintf(b, "%s- %s\n", indent, parts[0])
		for _, p := range parts[1:] {
			fmt.Fprintf(b, "%s  %s\n", indent, p)
		}
		fmt.Fprintf(b, "%s  fields:\n", indent)
		yamlFields(b, f.fields, indent+"    ")
	}
}

var protoScalar = map[string]string{
	"string": "string", "bool": "bool", "int32": "int32", "int64": "int64", "uint32": "uint32",
	"uint64": "uint64", "float": "float", "double": "double", "bytes": "bytes",
	"timestamp": "google.protobuf.Timestamp",
}

// protoEvent renders a raw contract: the upload path, as a team would write it by hand.
func protoEvent(ev *event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "syntax = \"proto3\";\n\npackage events.%s.v1;\n\n", ev.dom.name)
	b.WriteString("import \"google/protobuf/timestamp.proto\";\n\n")
	fmt.Fprintf(&b, "// %s\nmessage %s {\n", ev.desc, ev.message())
	protoMessageBody(&b, ev.fields, "  ")
	b.WriteString("}\n")
	return b.String()
}

func protoMessageBody(b *strings.Builder, fs []field, indent string) {
	for _, f := range fs {
		if f.desc != "" {
			fmt.Fprintf(b, "%s// %s\n", indent, f.desc)
		}
		var t string
		switch f.typ {
		case "enum", "record":
			t = pascal(f.name)
		case "map":
			fmt.Fprintf(b, "%smap<%s, %s> %s = %d;\n", indent, protoScalar[f.key], protoScalar[f.val], f.name, f.num)
			continue
		case "date": // raw contracts in the benchmark stay on the well-known types
			t = protoScalar["timestamp"]
		default:
			t = protoScalar[f.typ]
		}
		label := ""
		switch {
		case f.mode == "repeated":
			label = "repeated "
		case f.typ != "record" && f.typ != "timestamp" && f.typ != "date":
			label = "optional "
		}
		fmt.Fprintf(b, "%s%s%s %s = %d;\n", indent, label, t, f.name, f.num)
	}
	for _, f := range fs {
		switch f.typ {
		case "enum":
			name := pascal(f.name)
			fmt.Fprintf(b, "\n%senum %s {\n%s  %s_UNSPECIFIED = 0;\n", indent, name, indent, upperSnake(f.name))
			for i, v := range f.values {
				fmt.Fprintf(b, "%s  %s = %d;\n", indent, v, i+1)
			}
			fmt.Fprintf(b, "%s}\n", indent)
		case "record":
			fmt.Fprintf(b, "\n%smessage %s {\n", indent, pascal(f.name))
			protoMessageBody(b, f.fields, indent+"  ")
			fmt.Fprintf(b, "%s}\n", indent)
		}
	}
}

// projectYAML is the synthetic evctl.yaml: the sample repository's shape, with teams for all 12
// domains.
const projectYAML = `# Synthetic evctl project for benchmarks (internal/synth). Do not edit: regenerate.
version: 1
naming:
  topic: "{env}.{domain}.{event}.v{major}"
  bigquery_table: "{domain}__{event}_v{major}"
  proto_package: "events.{domain}.v{major}"
platform_fields:
  - {name: event_id,    type: string,    mode: required, number: 1000, description: "Unique id of the event (UUIDv7), set by the producer or the gateway."}
  - {name: event_time,  type: timestamp, mode: required, number: 1001, description: "When the event happened, on the producer's clock."}
  - {name: received_at, type: timestamp, number: 1002, description: "When the gateway received the event."}
  - {name: app,         type: string,    number: 1003, description: "The app that sent the event."}
  - {name: platform,    type: string,    number: 1004, description: "android, ios or web."}
  - {name: user_id,     type: string,    number: 1005, description: "The signed-in user, if any."}
teams:
  growth:    {pods: [feed, notifications], github: ["@acme/growth"]}
  creators:  {pods: [studio, posts], github: ["@acme/creators"]}
  identity:  {pods: [accounts, onboarding], github: ["@acme/identity"]}
  payments:  {pods: [checkout, wallet], github: ["@acme/payments"]}
  discovery: {pods: [search, ads], github: ["@acme/discovery"]}
  social:    {pods: [chat, live], github: ["@acme/social"]}
  analytics: {pods: [core], github: ["@acme/analytics"]}
  ml:        {pods: [ranking], github: ["@acme/ml"]}
environments:
  local:
    stages: [staging, prod]
    kafka: {brokers: ["127.0.0.1:9092"], sasl: {mechanism: SCRAM-SHA-256, user_env: EVCTL_KAFKA_USER, password_env: EVCTL_KAFKA_PASSWORD}}
    descriptors: {url: "file://.evctl/descriptors"}
    state: {url: "file://.evctl/state"}
    bigquery: {project: local, dataset: events, endpoint_env: BIGQUERY_EMULATOR_HOST}
    delta: {url: "file://.evctl/lake"}
    gateway: {listen: "127.0.0.1:8080", poll: 10s, tokens_env: EVCTL_GATEWAY_TOKENS}
    credentials_dir: .evctl/credentials
  staging:
    stages: [staging, prod]
    kafka: {brokers: ["kafka-staging.internal:9092"], sasl: {mechanism: SCRAM-SHA-512, user_env: EVCTL_KAFKA_USER, password_env: EVCTL_KAFKA_PASSWORD}}
    descriptors: {url: "gs://acme-evctl-staging/descriptors"}
    state: {url: "gs://acme-evctl-staging/state"}
    bigquery: {project: acme-staging, dataset: events}
    delta: {url: "gs://acme-lake-staging/events"}
    gateway: {listen: "0.0.0.0:8080", poll: 10s, tokens_env: EVCTL_GATEWAY_TOKENS}
    credentials_dir: .evctl/credentials/staging
  prod:
    stages: [prod]
    kafka: {brokers: ["kafka-prod.internal:9092"], sasl: {mechanism: SCRAM-SHA-512, user_env: EVCTL_KAFKA_USER, password_env: EVCTL_KAFKA_PASSWORD}}
    descriptors: {url: "gs://acme-evctl-prod/descriptors"}
    state: {url: "gs://acme-evctl-prod/state"}
    bigquery: {project: acme-prod, dataset: events}
    delta: {url: "gs://acme-lake-prod/events"}
    gateway: {listen: "0.0.0.0:8080", poll: 10s, tokens_env: EVCTL_GATEWAY_TOKENS}
    credentials_dir: .evctl/credentials/prod
`

// bufYAML makes buf-src/ a buf v2 module of the effective protos.
const bufYAML = "version: v2\n"

// validateFile is protovalidate's import path, which required fields' rules import.
const validateFile = "buf/validate/validate.proto"

// validateStub declares the part of protovalidate's validate.proto that evctl's protos use, with
// the real names and numbers, so the options compile to the same bytes.
const validateStub = `// Stub of protovalidate's buf/validate/validate.proto for the offline buf baseline (internal/synth).
syntax = "proto2";

package buf.validate;

import "google/protobuf/descriptor.proto";

extend google.protobuf.FieldOptions {
  optional FieldRules field = 1159;
}

message FieldRules {
  optional bool required = 25;
}
`
