package lint_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// TestOpenEnumReachesTheDescriptor: `open: true` on an enum field is carried into the compiled
// descriptor as (evctl.options.v1.open_enum), which the gateway reads; enums are closed without
// it, and `open` on a field that is not an enum is a finding.
func TestOpenEnumReachesTheDescriptor(t *testing.T) {
	event := goodEvent + "    - {name: quality, type: enum, values: [SD, HD], number: 2, open: true}\n" +
		"    - {name: size, type: enum, values: [S, M], number: 3}\n"
	dir := writeRepo(t, map[string]string{"contracts/feed/video_played.yaml": event})
	ws, err := workspace.Open(filepath.Join(dir, "evctl.yaml"), dir)
	if err != nil {
		t.Fatal(err)
	}
	rep := lint.Check(context.Background(), ws, lint.Options{SkipGenFresh: true})
	if len(rep.Diags) != 0 {
		t.Fatal(rep.Diags)
	}
	md := rep.Compiled.Messages["feed/video_played"]
	if !evoptions.FieldOpenEnum(md.Fields().ByName("quality")) || evoptions.FieldOpenEnum(md.Fields().ByName("size")) {
		t.Errorf("open_enum: quality %v, size %v", evoptions.FieldOpenEnum(md.Fields().ByName("quality")), evoptions.FieldOpenEnum(md.Fields().ByName("size")))
	}
	bad := writeRepo(t, map[string]string{"contracts/feed/video_played.yaml": goodEvent + "    - {name: n, type: string, number: 2, open: true}\n"})
	got := findings(checkRepo(t, bad))
	if len(got) != 1 || !strings.HasPrefix(got[0], "contracts/feed/video_played.yaml:9:") {
		t.Errorf("open on a string: %q", got)
	}
}
