package blob_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/blob/blobtest"
)

func newFileStore(t *testing.T) blob.Store {
	t.Helper()
	s, err := blob.Open(t.Context(), "file://"+filepath.ToSlash(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFileConformance(t *testing.T) {
	blobtest.Run(t, newFileStore)
}

func TestFileRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := blob.Open(t.Context(), "file://.evctl/state")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "local/resources.json", []byte("{}"), blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".evctl", "state", "local", "resources.json")); err != nil {
		t.Errorf("object not under the working directory: %v", err)
	}
	if got := s.URL(); got != "file://.evctl/state" {
		t.Errorf("URL() = %q", got)
	}
}

// TestFileNoPartialObjects checks that a writer leaves no visible temporary files: only the
// object and the hidden lock file remain.
func TestFileNoPartialObjects(t *testing.T) {
	dir := t.TempDir()
	s, err := blob.Open(t.Context(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Put(t.Context(), "k", []byte(strconv.Itoa(i)), blob.PutOpts{}); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, ","); got != ".lock,k" {
		t.Errorf("directory holds %s, want .lock,k", got)
	}
}

// The helper process for TestFileCrossProcessCAS: when the variables are set, the test binary
// increments the counter and exits instead of running tests.
const (
	envHelperStore = "EVCTL_BLOB_TEST_STORE"
	envHelperCount = "EVCTL_BLOB_TEST_COUNT"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(envHelperStore); url != "" {
		os.Exit(helperIncrement(url))
	}
	os.Exit(m.Run())
}

func helperIncrement(url string) int {
	n, _ := strconv.Atoi(os.Getenv(envHelperCount))
	s, err := blob.Open(context.Background(), url)
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 1
	}
	for range n {
		if err := blobtest.Increment(context.Background(), s, "counter"); err != nil {
			os.Stderr.WriteString(err.Error())
			return 1
		}
	}
	return 0
}

// TestFileCrossProcessCAS races compare-and-swap increments from several processes, which is
// what the directory flock is for: goroutines alone would not show a missing lock.
func TestFileCrossProcessCAS(t *testing.T) {
	const procs, each = 4, 25
	url := "file://" + t.TempDir()
	s, err := blob.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "counter", []byte("0"), blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outs := make([][]byte, procs)
	errs := make([]error, procs)
	for i := range procs {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envHelperStore+"="+url, envHelperCount+"="+strconv.Itoa(each))
			outs[i], errs[i] = cmd.CombinedOutput()
		})
	}
	wg.Wait()
	for i := range procs {
		if errs[i] != nil {
			t.Fatalf("process %d: %v: %s", i, errs[i], outs[i])
		}
	}
	data, _, err := s.Get(t.Context(), "counter")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), strconv.Itoa(procs*each); got != want {
		t.Errorf("counter = %s, want %s: an update was lost", got, want)
	}
}
