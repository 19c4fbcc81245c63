package cli_test

import (
	"bytes"
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/cli"
)

// updateGolden is the -update flag: rewrite testdata/discover/golden from the current output.
// It is looked up first so another test file of this package may define the same flag.
var updateGolden = func() *bool {
	if f := flag.Lookup("update"); f != nil {
		return f.Value.(flag.Getter).Get().(*bool)
	}
	return flag.Bool("update", false, "rewrite golden files under testdata")
}()

// copyRepo copies testdata/discover/repo into a new folder, so commands may write in it.
func copyRepo(t *testing.T) string {
	t.Helper()
	src, dst := filepath.Join("testdata", "discover", "repo"), t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// runIn runs evctl in dir and fails unless it exits with want.
func runIn(t *testing.T, dir string, want int, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
		Getenv: func(string) string { return "" }, WorkDir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if code := cli.Run(ctx, io, args); code != want {
		t.Fatalf("evctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out.String(), errOut.String())
	}
	return out.String()
}

// golden compares got with testdata/discover/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "discover", "golden", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/cli -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./pkg/cli -run %s -update to accept):\n--- got\n%s\n--- want\n%s", path, t.Name(), got, want)
	}
}

func TestDiscoverGolden(t *testing.T) {
	dir := copyRepo(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"list.txt", []string{"list"}},
		{"list.json", []string{"list", "-o", "json"}},
		{"list_owner.txt", []string{"list", "--owner", "creators"}},
		{"describe.txt", []string{"describe", "feed/video_played"}},
		{"describe.json", []string{"describe", "video_played", "-o", "json"}},
		{"describe_raw.txt", []string{"describe", "posts/post_liked"}},
		{"describe_consumer.txt", []string{"describe", "consumer/watch_alerts"}},
		{"describe_consumer.json", []string{"describe", "likes_mirror", "-o", "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) { golden(t, tc.name, runIn(t, dir, 0, tc.args...)) })
	}
	t.Run("codeowners", func(t *testing.T) {
		runIn(t, dir, 0, "codeowners")
		b, err := os.ReadFile(filepath.Join(dir, ".github", "CODEOWNERS"))
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "CODEOWNERS", string(b))
		runIn(t, dir, 0, "codeowners", "--check")
	})
	t.Run("catalog", func(t *testing.T) {
		golden(t, "catalog.json", runIn(t, dir, 0, "catalog", "-o", "json"))
		golden(t, "catalog.txtar", readTree(t, filepath.Join(dir, "catalog")))
		runIn(t, dir, 0, "catalog", "--check")
	})
}

// readTree renders every file under dir as a txtar archive, sorted by path.
func readTree(t *testing.T, dir string) string {
	t.Helper()
	var paths []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("-- " + p + " --\n")
		b.Write(data)
	}
	return b.String()
}

func TestDescribeUnknownEvent(t *testing.T) {
	dir := copyRepo(t)
	var out, errOut bytes.Buffer
	io := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" }, WorkDir: dir}
	if code := cli.Run(context.Background(), io, []string{"describe", "feed/nope"}); code != 1 || !strings.Contains(errOut.String(), `no event "feed/nope"`) {
		t.Fatalf("exit %d, stderr %s", code, errOut.String())
	}
}

// TestWebExampleSchemaIsFresh: examples/web validates against the schema export writes today.
func TestWebExampleSchemaIsFresh(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(root, "examples", "web", "video_played.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := runIn(t, root, 0, "export", "feed/video_played", "--format", "jsonschema")
	if got != string(want) {
		t.Fatalf("examples/web/video_played.schema.json is stale; run\n  evctl export feed/video_played --format jsonschema > examples/web/video_played.schema.json")
	}
}
