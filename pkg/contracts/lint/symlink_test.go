package lint_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// TestAttackSymlinkOutsideRepo: a symlinked contract file, folder or raw .proto that resolves
// outside the repository is refused with OUTSIDE_REPOSITORY, and nothing of its content reaches
// the findings; symlinks that stay inside the repository are followed, files and folders alike.
func TestAttackSymlinkOutsideRepo(t *testing.T) {
	secret := t.TempDir()
	const marker = "SECRET_OUTSIDE_CONTENT"
	if err := os.WriteFile(filepath.Join(secret, "leak.yaml"), []byte("name: "+marker+"\nbogus: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secret, "leak.proto"), []byte("syntax = \"proto3\"; message "+marker+" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rawEvent := strings.Replace(goodEvent, "name: video_played", "name: raw_played", 1)
	rawEvent = rawEvent[:strings.Index(rawEvent, "schema:")] + "schema:\n  proto: {file: raw_played.proto, message: RawPlayed}\n"
	dir := writeRepo(t, map[string]string{
		"contracts/feed/video_played.yaml": goodEvent,
		"contracts/feed/raw_played.yaml":   rawEvent,
		"shared/posts/post_liked.yaml": strings.NewReplacer("video_played", "post_liked", "domain: feed", "domain: posts",
			"pod: feed", "pod: feed", "video_id", "post_id").Replace(goodEvent),
	})
	for link, target := range map[string]string{
		"contracts/feed/leak.yaml":        filepath.Join(secret, "leak.yaml"), // a file outside
		"contracts/outside":               secret,                             // a folder outside
		"contracts/feed/raw_played.proto": filepath.Join(secret, "leak.proto"),
		"contracts/posts":                 filepath.Join(dir, "shared/posts"), // a folder inside: followed
	} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	ds := checkRepo(t, dir)
	got := findings(ds)
	for _, want := range []string{"contracts/feed/leak.yaml:1:1 OUTSIDE_REPOSITORY", "contracts/outside:1:1 OUTSIDE_REPOSITORY"} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %s in %q", want, got)
		}
	}
	for _, d := range ds {
		if strings.Contains(d.Message, marker) {
			t.Errorf("outside content reached the findings: %v", d)
		}
		if strings.HasPrefix(d.Pos.File, "contracts/posts/") {
			t.Errorf("the in-repository folder symlink was not read cleanly: %v", d)
		}
	}
	ws, err := workspace.Open(filepath.Join(dir, "evctl.yaml"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if ws.Event("posts/post_liked") == nil {
		t.Errorf("the event behind the in-repository folder symlink was not loaded")
	}
	raw := false
	for _, d := range ds {
		if strings.Contains(d.Message, "outside the repository") && strings.Contains(d.Pos.File, "raw_played") {
			raw = true
		}
	}
	if !raw {
		t.Errorf("the raw .proto symlinked outside was not refused: %q", got)
	}
}
