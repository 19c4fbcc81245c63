package lint_test

import (
	"context"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// A CODEOWNERS maintained by hand (no evctl header) is not evctl's to judge; the generated one
// is covered by testdata/bad/codeowners_stale.
func TestHandWrittenCodeOwnersIsNotChecked(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"contracts/feed/video_played.yaml": goodEvent,
		".github/CODEOWNERS":               "* @acme/platform\n",
	})
	ws, err := workspace.Open("", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range lint.Check(context.Background(), ws, lint.Options{}).Diags {
		if d.Rule == lint.RuleCodeOwnersStale {
			t.Fatalf("hand-written CODEOWNERS reported: %v", d)
		}
	}
}
