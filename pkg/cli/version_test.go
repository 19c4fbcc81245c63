package cli_test

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/breaking"
)

// TestVersion runs `evctl version` and `evctl --version` with the real pinned buf (from
// .tools/bin, installed by make test): both print the same, in text and -o json, and name the
// buf found and its version as buf itself reports it.
func TestVersion(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"EVCTL_BUF": brkBuf(t)}
	var views []map[string]any
	for _, args := range [][]string{{"version", "-o", "json"}, {"--version", "-o", "json"}} {
		code, out, errOut := brkRun(t, dir, env, args...)
		if code != 0 {
			t.Fatalf("evctl %v: exit %d: %s", args, code, errOut)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("evctl %v -o json: %v\n%s", args, err, out)
		}
		views = append(views, v)
	}
	v := views[0]
	buf, _ := v["buf"].(map[string]any)
	if v["version"] == "" || v["go_version"] != runtime.Version() || buf["path"] != env["EVCTL_BUF"] ||
		"v"+buf["version"].(string) != breaking.BufVersion || buf["pinned"] != breaking.BufVersion {
		t.Fatalf("version -o json: %v", v)
	}
	if a, b := jsonString(t, views[0]), jsonString(t, views[1]); a != b {
		t.Fatalf("version and --version differ:\n%s\n%s", a, b)
	}

	code, text, _ := brkRun(t, dir, env, "--version")
	if code != 0 || !strings.HasPrefix(text, "evctl ") || !strings.Contains(text, "go      "+runtime.Version()) ||
		!strings.Contains(text, "buf     "+strings.TrimPrefix(breaking.BufVersion, "v")+" ("+env["EVCTL_BUF"]) {
		t.Fatalf("--version: exit %d\n%s", code, text)
	}

	// A buf that is not there is reported, not an error: version must work on any machine.
	code, text, _ = brkRun(t, dir, map[string]string{"EVCTL_BUF": dir + "/no-buf"}, "version")
	if code != 0 || !strings.Contains(text, "buf     not available: ") || !strings.Contains(text, "no-buf does not exist") {
		t.Fatalf("version without buf: exit %d\n%s", code, text)
	}
	if code, _, errOut := brkRun(t, dir, env, "version", "-o", "xml"); code != 1 || !strings.Contains(errOut, `-o "xml" is not an output format`) {
		t.Fatalf("version -o xml: exit %d, %q", code, errOut)
	}
	// The root command alone still prints its help.
	if code, out, _ := brkRun(t, dir, env); code != 0 || !strings.Contains(out, "Usage:") {
		t.Fatalf("evctl with no arguments: exit %d\n%s", code, out)
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
