package contract_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
)

// TestAttackYAMLNumbersWrappedOrTruncated: integers that yaml.v3 would truncate (2.9 → 2) or
// that a later int32 conversion would wrap (4294967308 → 12) are errors with file:line:col.
func TestAttackYAMLNumbersWrappedOrTruncated(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"sinks:\n  kafka: {partitions: 99999999999}\n", "contracts/feed/e.yaml:3:23"},
		{"sinks:\n  kafka: {partitions: 4294967308}\n", "contracts/feed/e.yaml:3:23"},
		{"sinks:\n  kafka: {partitions: 2.9}\n", "contracts/feed/e.yaml:3:23"},
		{"major: 1.5\n", "contracts/feed/e.yaml:2:8"},
		{"schema:\n  fields:\n    - {name: a, type: string, number: 2.5}\n", "contracts/feed/e.yaml:4:39"},
		{"schema:\n  fields:\n    - {name: q, type: enum, number: 1, values: [{name: A, number: 1.5}]}\n", "contracts/feed/e.yaml:4:67"},
		{"schema:\n  reserved: [7.5]\n", "contracts/feed/e.yaml:3:14"},
		{"schema:\n  reserved: [4294967303]\n", "contracts/feed/e.yaml:3:14"},
	} {
		_, diags := contract.Parse("contracts/feed/e.yaml", []byte("name: e\n"+c.yaml))
		want := c.want
		if len(diags) == 0 || !strings.Contains(fmt.Sprint(diags), want) {
			t.Errorf("%q: %v, want an error at %s", c.yaml, diags, want)
		}
	}
	_, diags := config.Parse("evctl.yaml", []byte("version: 1\nplatform_fields:\n  - {name: event_id, type: string, number: 1000.5}\n"))
	if len(diags) == 0 || !strings.Contains(fmt.Sprint(diags), "evctl.yaml:3:") || !strings.Contains(fmt.Sprint(diags), "whole number") {
		t.Errorf("evctl.yaml: %v", diags)
	}
	// Whole numbers in range still parse.
	ev, diags := contract.Parse("contracts/feed/e.yaml", []byte("name: e\nsinks:\n  kafka: {partitions: 12}\n"))
	if len(diags) != 0 || ev.Sinks.Kafka.Partitions != 12 {
		t.Errorf("partitions: 12: %v", diags)
	}
}
