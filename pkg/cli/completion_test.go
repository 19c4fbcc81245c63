package cli_test

import (
	"strings"
	"testing"
)

// TestCompleteEvents: the hidden __complete command cobra's completion scripts call.
func TestCompleteEvents(t *testing.T) {
	dir := copyRepo(t)
	for _, cmd := range []string{"describe", "tail"} {
		out := runIn(t, dir, 0, "__complete", cmd, "feed/")
		if !strings.Contains(out, "feed/video_played\tA user started playback of a video.") || strings.Contains(out, "posts/") {
			t.Errorf("%s completion:\n%s", cmd, out)
		}
	}
	if out := runIn(t, dir, 0, "__complete", "describe", "post"); !strings.Contains(out, "posts/post_liked") {
		t.Errorf("completing a bare name prefix:\n%s", out)
	}
	if out := runIn(t, dir, 0, "__complete", "describe", "feed/video_played", ""); strings.Contains(out, "posts/") {
		t.Errorf("second argument completed events:\n%s", out)
	}
	if out := runIn(t, dir, 0, "completion", "bash"); !strings.Contains(out, "__evctl") && !strings.Contains(out, "evctl") {
		t.Errorf("completion bash printed no script")
	}
}
