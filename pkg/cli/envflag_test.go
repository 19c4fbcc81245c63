package cli_test

import (
	"strings"
	"testing"
)

// TestEnvRequired: every command that works on an environment refuses to run without --env
// (cobra's required flag), with exit 1 and before opening anything.
func TestEnvRequired(t *testing.T) {
	dir := sampleRepo(t, true)
	for _, args := range [][]string{
		{"plan"}, {"apply", "--auto-approve"}, {"drift"}, {"status"}, {"unlock"}, {"state", "repair"},
		{"tail", "feed/video_played"}, {"gateway"},
	} {
		code, out, errOut := runCLI(t, dir, args...)
		if code != 1 || !strings.Contains(errOut, `required flag(s) "env" not set`) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}
