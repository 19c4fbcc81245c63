package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutputFormatsRejected: every command refuses an -o it cannot render, with exit 1 and the
// formats it has, before doing any work (no repository is even needed).
func TestOutputFormatsRejected(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "-o", "xml"}, `evctl list: -o "xml" is not an output format of this command (use -o text|json)`},
		{[]string{"search", "video", "-o", "xml"}, `evctl search: -o "xml" is not an output format of this command (use -o text|json)`},
		{[]string{"status", "--env", "local", "-o", "xml"}, `evctl status: -o "xml" is not an output format`},
		{[]string{"drift", "--env", "local", "-o", "xml"}, `evctl drift: -o "xml" is not an output format`},
		{[]string{"plan", "--env", "local", "-o", "xml"}, `(use -o text|json|markdown)`},
		{[]string{"lint", "-o", "markdown"}, `(use -o text|json|github)`},
		{[]string{"list", "-o", "markdown"}, `(use -o text|json)`},
	} {
		code, out, errOut := runCLI(t, dir, tc.args...)
		if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("evctl %s: exit %d, stdout %q, stderr %q; want exit 1 with %q", strings.Join(tc.args, " "), code, out, errOut, tc.want)
		}
	}
}

// TestBuildOutputIsAFile: build's -o is the file it writes, so a format name there is an error
// with the hint, and writes nothing; a path (even one named json) is written.
func TestBuildOutputIsAFile(t *testing.T) {
	dir := sampleRepo(t, false)
	for _, f := range []string{"json", "text"} {
		code, _, errOut := runCLI(t, dir, "build", "-o", f)
		if code != 1 || !strings.Contains(errOut, "-o is the file to write the descriptor set to, not an output format") || !strings.Contains(errOut, "-o ./"+f) {
			t.Fatalf("build -o %s: exit %d, %q", f, code, errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Fatalf("build -o %s wrote a file named %s", f, f)
		}
	}
	if code, _, errOut := runCLI(t, dir, "build", "-o", "./json"); code != 0 {
		t.Fatalf("build -o ./json: exit %d, %s", code, errOut)
	}
	if st, err := os.Stat(filepath.Join(dir, "json")); err != nil || st.Size() == 0 {
		t.Fatalf("build -o ./json wrote nothing: %v", err)
	}
}
