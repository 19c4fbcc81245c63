package config_test

import (
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/config"
)

// TestStrictKeys: an unknown key anywhere in evctl.yaml (top level, inside a team, an
// environment, a nested block of one, a platform field) is one error at its line:column with
// the closest key; the Backstage catalog block and x- keys are allowed.
func TestStrictKeys(t *testing.T) {
	const src = `version: 1
catalog: {system: s}
x-owner: platform team
platform_fields:
  - {name: event_id, type: string, mode: required, number: 1000, nmber: 3}
teams:
  growth: {pod: [feed]}
environments:
  local:
    stage: [staging, prod]
    x-note: fine
    kafka: {brokers: ["127.0.0.1:9092"], sasl: {mechansim: PLAIN}}
    state: {url: "file://s", ur: x}
  prod:
    stages: [prod]
    bigquery: {projekt: p, dataset: d}
namin: {}
whatever: 1
`
	_, diags := config.Parse(config.FileName, []byte(src))
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	want := []string{
		`evctl.yaml:5:66: YAML_UNKNOWN_KEY: unknown key "nmber" (did you mean "number"?)`,
		`evctl.yaml:7:12: YAML_UNKNOWN_KEY: unknown key "pod" (did you mean "pods"?)`,
		`evctl.yaml:10:5: YAML_UNKNOWN_KEY: unknown key "stage" (did you mean "stages"?)`,
		`evctl.yaml:12:49: YAML_UNKNOWN_KEY: unknown key "mechansim" (did you mean "mechanism"?)`,
		`evctl.yaml:13:30: YAML_UNKNOWN_KEY: unknown key "ur" (did you mean "url"?)`,
		`evctl.yaml:16:16: YAML_UNKNOWN_KEY: unknown key "projekt" (did you mean "project"?)`,
		`evctl.yaml:17:1: YAML_UNKNOWN_KEY: unknown key "namin" (did you mean "naming"?)`,
		`evctl.yaml:18:1: YAML_UNKNOWN_KEY: unknown key "whatever" (a key of your own starts with "x-")`,
	}
	g := strings.Join(got, "\n")
	for _, w := range want {
		if strings.Count(g, w) != 1 {
			t.Errorf("missing once: %s", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d diagnostics, want %d:\n%s", len(got), len(want), g)
	}
}
