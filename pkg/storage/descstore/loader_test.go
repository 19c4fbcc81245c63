package descstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// readCounter is a real file:// store whose Gets are counted, and held back until release is
// closed (so concurrent callers are sure to overlap).
type readCounter struct {
	blob.Store
	release chan struct{}
	mu      sync.Mutex
	gets    map[string]int
}

func (c *readCounter) Get(ctx context.Context, key string) ([]byte, blob.Gen, error) {
	c.mu.Lock()
	c.gets[key]++
	c.mu.Unlock()
	<-c.release
	return c.Store.Get(ctx, key)
}

func (c *readCounter) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[key]
}

func fileStore(t *testing.T) (blob.Store, *readCounter) {
	t.Helper()
	st, err := blob.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, &readCounter{Store: st, release: make(chan struct{}), gets: map[string]int{}}
}

// TestLoaderConcurrentCallersShareOneFetch: callers asking for the same set at once share one
// read of it; one that gives up gets its context's error while the others still get the message.
func TestLoaderConcurrentCallersShareOneFetch(t *testing.T) {
	st, rc := fileStore(t)
	set := eventSet(t, "A", 2)
	sha := descstore.SHA256(set)
	for _, err := range descstore.WriteSets(context.Background(), st, map[string][]byte{sha: set}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	l := descstore.NewLoader(rc)
	const n = 40
	mds := make([]protoreflect.MessageDescriptor, n)
	errs := make([]error, n)
	var wg, started sync.WaitGroup
	started.Add(n + 1)
	for i := range n {
		wg.Go(func() {
			started.Done()
			mds[i], errs[i] = l.Message(context.Background(), sha, "events.v1.A")
		})
	}
	gone, cancel := context.WithCancel(context.Background())
	var goneErr error
	wg.Go(func() {
		started.Done()
		_, goneErr = l.Message(gone, sha, "events.v1.A")
	})
	// Every caller is waiting on the one read held back (the pause only lets the last callers
	// reach it; nothing is timed): the one that gives up returns.
	started.Wait()
	waitUntil(t, func() bool { return rc.count(descstore.SetKey(sha)) == 1 })
	time.Sleep(100 * time.Millisecond)
	cancel()
	close(rc.release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || mds[i] == nil || mds[i].FullName() != "events.v1.A" {
			t.Fatalf("caller %d: %v %v", i, mds[i], errs[i])
		}
		if mds[i] != mds[0] {
			t.Fatalf("caller %d got another build of the set", i)
		}
	}
	if !errors.Is(goneErr, context.Canceled) {
		t.Errorf("the caller that gave up: %v", goneErr)
	}
	if got := rc.count(descstore.SetKey(sha)); got != 1 {
		t.Fatalf("%d reads of the set for %d concurrent callers, want 1", got, n+1)
	}
	// Nothing is kept beyond the imports: a later ask reads again (callers keep what they use).
	if _, err := l.Message(context.Background(), sha, "events.v1.A"); err != nil {
		t.Fatal(err)
	}
	if got := rc.count(descstore.SetKey(sha)); got != 2 {
		t.Errorf("%d reads after a later ask, want 2", got)
	}
}

// TestLoaderErrors: each failure has its sentinel, so readers tell a set that will never load
// from a store that cannot be read now.
func TestLoaderErrors(t *testing.T) {
	st, _ := fileStore(t)
	ctx := context.Background()
	set := eventSet(t, "A", 2)
	sha := descstore.SHA256(set)
	if _, err := st.Put(ctx, descstore.SetKey(sha), set, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	corrupt := strings.Repeat("cd", 32)
	if _, err := st.Put(ctx, descstore.SetKey(corrupt), set, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	garbage := []byte{0x0a, 0x05, 0xff, 0xff}
	gsha := descstore.SHA256(garbage)
	if _, err := st.Put(ctx, descstore.SetKey(gsha), garbage, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	l := descstore.NewLoader(st)
	for _, c := range []struct {
		name, sha, msg string
		want           error
	}{
		{"missing", strings.Repeat("ef", 32), "events.v1.A", blob.ErrNotExist},
		{"corrupt", corrupt, "events.v1.A", descstore.ErrCorruptSet},
		{"unbuildable", gsha, "events.v1.A", descstore.ErrBadSet},
		{"no such message", sha, "events.v1.Nope", descstore.ErrBadSet},
	} {
		_, err := l.Message(ctx, c.sha, c.msg)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.sha) {
			t.Errorf("%s: %v, want %v naming the set", c.name, err, c.want)
		}
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("gave up waiting")
		}
		time.Sleep(time.Millisecond)
	}
}
