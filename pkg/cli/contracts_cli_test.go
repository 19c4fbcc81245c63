package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/cli"
)

// runCLI runs evctl in-process in dir and returns the exit code, stdout and stderr.
func runCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &cli.IOStreams{
		In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
		Getenv:  func(string) string { return "" },
		WorkDir: dir,
	}
	code := cli.Run(context.Background(), io, args)
	return code, out.String(), errOut.String()
}

// sampleRepo copies the sample catalog (evctl.yaml, contracts/, gen/) into a temporary folder.
func sampleRepo(t *testing.T, withGen bool) string {
	t.Helper()
	src := filepath.Join("..", "..")
	dst := t.TempDir()
	copyFile := func(rel string) {
		data, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, rel), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("evctl.yaml")
	dirs := []string{"contracts"}
	if withGen {
		dirs = append(dirs, "gen")
	}
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(src, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			copyFile(rel)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// generated returns a copy of the sample catalog with gen/ freshly generated, as a fresh
// checkout has it: without the cache generate leaves in .evctl/cache.
func generated(t *testing.T) string {
	t.Helper()
	dir := sampleRepo(t, false)
	if code, _, stderr := runCLI(t, dir, "generate"); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	if err := os.RemoveAll(filepath.Join(dir, ".evctl", "cache")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLintExitCodes(t *testing.T) {
	dir := generated(t)
	if code, out, stderr := runCLI(t, dir, "lint"); code != 0 {
		t.Fatalf("lint of the sample catalog: exit %d\n%s%s", code, out, stderr)
	}
	// The committed gen/ must be what generate writes: the repository itself lints clean.
	if code, out, _ := runCLI(t, sampleRepo(t, true), "lint"); code != 0 {
		t.Fatalf("the committed gen/ is stale; run `evctl generate`:\n%s", out)
	}
	breakEvent(t, dir)
	code, out, _ := runCLI(t, dir, "lint")
	if code != 1 {
		t.Fatalf("lint with a broken contract: exit %d, want 1\n%s", code, out)
	}
	if !strings.Contains(out, "contracts/feed/video_played.yaml:3:15: error OWNER_TEAM:") {
		t.Errorf("text output does not name file:line:col and the rule:\n%s", out)
	}
	// paths limit what is shown, not what is checked
	if code, out, _ := runCLI(t, dir, "lint", "contracts/posts"); code != 0 || out != "" {
		t.Errorf("lint contracts/posts: exit %d, output %q", code, out)
	}
}

// breakEvent gives video_played an unknown owner team (line 3, column 15).
func breakEvent(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, "contracts", "feed", "video_played.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("owner: {team: growth,"), []byte("owner: {team: grwth, "), 1)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLintJSON(t *testing.T) {
	dir := generated(t)
	breakEvent(t, dir)
	code, out, _ := runCLI(t, dir, "lint", "--format", "json")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(v) != 2 || v["findings"] == nil || v["summary"] == nil {
		t.Fatalf("want exactly findings and summary, got %s", out)
	}
	var findings []map[string]any
	if err := json.Unmarshal(v["findings"], &findings); err != nil || len(findings) != 1 {
		t.Fatalf("findings: %v %s", err, v["findings"])
	}
	f := findings[0]
	want := map[string]any{"file": "contracts/feed/video_played.yaml", "line": 3.0, "column": 15.0, "rule": "OWNER_TEAM", "severity": "error"}
	for k, w := range want {
		if f[k] != w {
			t.Errorf("finding.%s = %v, want %v", k, f[k], w)
		}
	}
	if msg, _ := f["message"].(string); !strings.Contains(msg, "grwth") {
		t.Errorf("message %q", msg)
	}
	if len(f) != 6 {
		t.Errorf("finding has keys %v; want file, line, column, rule, severity, message", f)
	}
	var summary map[string]int
	if err := json.Unmarshal(v["summary"], &summary); err != nil || summary["errors"] != 1 || summary["warnings"] != 0 || len(summary) != 2 {
		t.Errorf("summary %s", v["summary"])
	}

	// Clean: an empty list, not null.
	code, out, _ = runCLI(t, generated(t), "lint", "--format", "json")
	if code != 0 || !strings.Contains(out, `"findings": []`) {
		t.Errorf("clean lint json: exit %d\n%s", code, out)
	}
}

func TestLintGitHub(t *testing.T) {
	dir := generated(t)
	breakEvent(t, dir)
	code, out, _ := runCLI(t, dir, "lint", "--format", "github")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	line := regexp.MustCompile(`^::error file=contracts/feed/video_played\.yaml,line=3,col=15(,title=OWNER_TEAM)?::.*grwth`)
	if !line.MatchString(strings.TrimSpace(out)) {
		t.Errorf("github format: %q", out)
	}
}

func TestGenerateThenLint(t *testing.T) {
	dir := sampleRepo(t, false)
	code, out, _ := runCLI(t, dir, "lint")
	if code != 1 || !strings.Contains(out, "GEN_STALE") {
		t.Fatalf("lint without gen/: exit %d, want 1 with GEN_STALE\n%s", code, out)
	}
	if code, _, stderr := runCLI(t, dir, "generate"); code != 0 {
		t.Fatalf("generate: exit %d %s", code, stderr)
	}
	if code, out, _ := runCLI(t, dir, "lint"); code != 0 {
		t.Fatalf("lint after generate: exit %d\n%s", code, out)
	}
	// Generating again changes nothing.
	code, out, _ = runCLI(t, dir, "generate")
	if code != 0 || strings.Contains(out, "wrote") {
		t.Errorf("second generate: exit %d, %q", code, out)
	}
	for _, f := range []string{"gen/proto/feed/video_played.proto", "gen/proto/payments/purchase_completed.proto", "gen/proto/common/money.proto", "gen/proto/evctl/options.proto"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("generate did not write %s", f)
		}
	}
}

func TestBuildWritesDescriptorSet(t *testing.T) {
	dir := generated(t)
	code, _, stderr := runCLI(t, dir, "build", "-o", "set.binpb")
	if code != 0 {
		t.Fatalf("build: exit %d %s", code, stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "set.binpb"))
	if err != nil {
		t.Fatal(err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(data, set); err != nil {
		t.Fatalf("not a FileDescriptorSet: %v", err)
	}
	names := map[string]bool{}
	for _, f := range set.File {
		names[f.GetName()] = true
	}
	for _, want := range []string{"feed/video_played.proto", "payments/wallet_topped_up.proto", "common/money.proto", "evctl/options.proto"} {
		if !names[want] {
			t.Errorf("%s missing from the set", want)
		}
	}
	// Same bytes on stdout.
	code, out, _ := runCLI(t, dir, "build", "-o", "-")
	if code != 0 || out != string(data) {
		t.Errorf("build -o -: exit %d, %d bytes (file has %d)", code, len(out), len(data))
	}
	breakEvent(t, dir)
	if code, _, _ := runCLI(t, dir, "build", "-o", "x.binpb"); code != 1 {
		t.Errorf("build of a broken repo: exit %d, want 1", code)
	}
}

func TestExportFormats(t *testing.T) {
	dir := generated(t)
	for _, ev := range []string{"feed/video_played", "identity/signup_completed", "payments/subscription_renewed", "post_created"} {
		code, out, stderr := runCLI(t, dir, "export", ev, "--format", "proto")
		if code != 0 || !strings.Contains(out, `syntax = "proto3";`) {
			t.Errorf("export %s proto: exit %d %s", ev, code, stderr)
		}
		code, out, stderr = runCLI(t, dir, "export", ev, "--format", "bigquery")
		var bq []map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &bq) != nil || len(bq) == 0 || bq[0]["name"] == nil || bq[0]["type"] == nil {
			t.Errorf("export %s bigquery: exit %d %s\n%s", ev, code, stderr, out)
		}
		code, out, stderr = runCLI(t, dir, "export", ev, "--format", "delta")
		var delta map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &delta) != nil || delta["type"] != "struct" {
			t.Errorf("export %s delta: exit %d %s\n%s", ev, code, stderr, out)
		}
		code, out, stderr = runCLI(t, dir, "export", ev, "--format", "jsonschema")
		var js map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &js) != nil || !strings.Contains(js["$schema"].(string), "2020-12") {
			t.Errorf("export %s jsonschema: exit %d %s\n%s", ev, code, stderr, out)
		}
	}
	if code, _, _ := runCLI(t, dir, "export", "feed/nope", "--format", "proto"); code != 1 {
		t.Errorf("export of an unknown event: exit %d, want 1", code)
	}
	if code, _, _ := runCLI(t, dir, "export", "feed/video_played", "--format", "avro"); code != 1 {
		t.Errorf("export in an unknown format: exit %d, want 1", code)
	}
}

func TestNewNumbersFields(t *testing.T) {
	dir := generated(t)
	code, out, stderr := runCLI(t, dir, "new", "feed/video_paused", "--owner", "growth/feed",
		"--field", "video_id:string:required", "--field", "position_ms:int64", "--field", "tags:string:repeated", "--field", "paused_at:timestamp")
	if code != 0 {
		t.Fatalf("new: exit %d %s", code, stderr)
	}
	if !strings.Contains(out, "contracts/feed/video_paused.yaml") {
		t.Errorf("new prints %q", out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "contracts", "feed", "video_paused.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range []string{"video_id", "position_ms", "tags", "paused_at"} {
		re := regexp.MustCompile(`name: ` + f + `\n(\s+\w+: \w+\n)*?\s+number: ` + string(rune('1'+i)) + `\n`)
		if !re.Match(data) {
			t.Errorf("field %s is not number %d:\n%s", f, i+1, data)
		}
	}
	// The scaffolded event is a valid contract once generated.
	if code, _, stderr := runCLI(t, dir, "generate"); code != 0 {
		t.Fatalf("generate after new: exit %d %s", code, stderr)
	}
	if code, out, _ := runCLI(t, dir, "lint"); code != 0 {
		t.Errorf("lint after new: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"existing file", []string{"new", "feed/video_paused", "--owner", "growth/feed"}},
		{"existing name in another domain", []string{"new", "posts/video_played", "--owner", "creators/posts"}},
		{"bad type", []string{"new", "feed/x_y", "--owner", "growth/feed", "--field", "a:strng"}},
		{"bad mode", []string{"new", "feed/x_y", "--owner", "growth/feed", "--field", "a:string:optional"}},
		{"bad name", []string{"new", "feed/Bad.Name", "--owner", "growth/feed"}},
		{"unknown team", []string{"new", "feed/x_y", "--owner", "nobody/feed"}},
		{"no owner", []string{"new", "feed/x_y"}},
	} {
		if code, _, stderr := runCLI(t, dir, tc.args...); code != 1 || stderr == "" {
			t.Errorf("%s: exit %d, stderr %q; want 1 and a message", tc.name, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "contracts", "feed", "x_y.yaml")); err == nil {
		t.Error("a refused new still wrote a file")
	}
}

func TestInitThenNewLintsClean(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runCLI(t, dir, "init")
	if code != 0 {
		t.Fatalf("init: exit %d %s", code, stderr)
	}
	for _, f := range []string{"evctl.yaml", ".pre-commit-config.yaml", ".github/workflows/evctl.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("init did not write %s (output %q)", f, out)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "contracts")); err != nil || !st.IsDir() {
		t.Error("init did not create contracts/")
	}
	if code, _, _ := runCLI(t, dir, "new", "checkout/cart_viewed", "--owner", "my_team/my_pod", "--field", "cart_id:string:required", "--field", "items:int32"); code != 0 {
		t.Fatalf("new in a fresh project: exit %d", code)
	}
	if code, _, stderr := runCLI(t, dir, "generate"); code != 0 {
		t.Fatalf("generate: exit %d %s", code, stderr)
	}
	if code, out, _ := runCLI(t, dir, "lint"); code != 0 {
		t.Fatalf("lint of a fresh project: exit %d\n%s", code, out)
	}
	// init again leaves what is there alone.
	code, out, _ = runCLI(t, dir, "init")
	if code != 0 || strings.Contains(out, "wrote") {
		t.Errorf("second init: exit %d %q", code, out)
	}
}
