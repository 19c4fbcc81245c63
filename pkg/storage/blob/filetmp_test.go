package blob

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHelperKilledMidWrite is not a test: TestAttackKilledWriteLeavesTmpFiles runs the test
// binary as a child that writes a temporary file, as a Delta commit does, and is killed
// (SIGKILL) before renaming it.
func TestHelperKilledMidWrite(t *testing.T) {
	dir := os.Getenv("EVCTL_BLOB_HELPER_DIR")
	if dir == "" {
		return
	}
	if _, _, err := writeTemp(dir, []byte(`{"commitInfo":{}}`)); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("ready\n")
	time.Sleep(time.Hour)
}

// TestAttackKilledWriteLeavesTmpFiles: a process killed mid-write leaves .tmp-* in
// _delta_log; the next write to that folder removes it, and leaves the temporary files of
// live writers alone.
func TestAttackKilledWriteLeavesTmpFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "feed", "t", "_delta_log")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledMidWrite$")
	cmd.Env = append(os.Environ(), "EVCTL_BLOB_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		_ = cmd.Process.Kill()
		t.Fatalf("helper: %q", line)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	// A live writer's temporary file (this machine's pid 1 is alive) must stay.
	live := filepath.Join(dir, tempPrefix+"1-42")
	if err := os.WriteFile(live, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if temps(t, dir) != 2 {
		t.Fatalf("want the killed writer's leftover and the live one, got %d", temps(t, dir))
	}

	st, err := Open(context.Background(), "file://"+root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(context.Background(), "feed/t/_delta_log/"+strconv.Itoa(0)+".json", []byte("{}"), PutOpts{IfNotExist: true}); err != nil {
		t.Fatal(err)
	}
	if n := temps(t, dir); n != 1 {
		t.Errorf("%d temporary files left, want only the live writer's", n)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the live writer's temporary file was removed: %v", err)
	}
}

func temps(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			n++
		}
	}
	return n
}
