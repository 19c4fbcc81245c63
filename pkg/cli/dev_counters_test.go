package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/cli"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestDevRunsCounters: evctl dev runs the count worker beside the gateway over the embedded
// store (file://), so likes posted after apply are counted and read through the gateway's route,
// and `evctl counters get` (whose own open of the held store fails) reads through that gateway.
func TestDevRunsCounters(t *testing.T) {
	dir := t.TempDir()
	kafkaAddr, gwAddr := freeAddr(t), freeAddr(t)
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := strings.Replace(paConfig, "credentials_dir: .evctl/credentials",
		"credentials_dir: .evctl/credentials\n    gateway: {listen: \""+gwAddr+"\", poll: 200ms}\n    counters: {store: \"file://.evctl/counters\"}", 1)
	write("evctl.yaml", fmt.Sprintf(cfg, kafkaAddr))
	write("contracts/feed/post_liked.yaml", likedEvent)

	ctx, stop := context.WithCancel(context.Background())
	var devOut, devErr syncBuffer
	done := make(chan int, 1)
	go func() {
		io := &cli.IOStreams{In: strings.NewReader(""), Out: &devOut, ErrOut: &devErr,
			Getenv: func(string) string { return "" }, WorkDir: dir}
		done <- cli.Run(ctx, io, []string{"dev"})
	}()
	stopped := false
	defer func() {
		if !stopped {
			stop()
			<-done
		}
	}()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(devOut.String(), "ready"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("evctl dev not ready:\n%s", devErr.String())
		}
	}
	// The credentials evctl dev wrote, as `. .evctl/dev/env` would export them.
	vars := map[string]string{}
	envFile, err := os.ReadFile(filepath.Join(dir, ".evctl", "dev", "env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(envFile), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "="); ok && !strings.HasPrefix(l, "#") {
			vars[k] = strings.Trim(v, "'")
		}
	}
	run := func(want int, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		io := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
			Getenv: func(k string) string { return vars[k] }, WorkDir: dir}
		if code := cli.Run(context.Background(), io, args); code != want {
			t.Fatalf("evctl %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out.String(), errOut.String())
		}
		return out.String()
	}
	run(0, "apply", "--env", "local", "--auto-approve")
	gw := "http://" + gwAddr
	for i, posted := 0, 0; posted < 4; i++ {
		resp, err := http.Post(gw+"/v1/events/feed/post_liked", "application/json",
			strings.NewReader(fmt.Sprintf(`{"post_id":"p9","action":"LIKE","event_id":"e%d","event_time":"2026-11-01T10:00:00Z"}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusAccepted {
			posted++
		} else if i > 100 {
			t.Fatalf("gateway: %s", resp.Status)
		} else {
			time.Sleep(100 * time.Millisecond) // the gateway's registry picks the event up within a poll
		}
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if out := run(0, "counters", "get", "post_likes", "p9", "--env", "local"); out == "p9 4\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter not 4 after a minute; dev said:\n%s", devErr.String())
		}
	}
	// The store write comes before the milestone record and its log line: wait for it.
	for deadline := time.Now().Add(time.Minute); !strings.Contains(devErr.String(), `msg="milestone reached" counter=post_likes key=p9 milestone=3 value=4`); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("milestone 3 not logged:\n%s", devErr.String())
		}
	}
	stop()
	stopped = true
	if code := <-done; code != 0 {
		t.Fatalf("evctl dev exited %d:\n%s", code, devErr.String())
	}
	// Stopped, dev released the store: counters get opens it itself now.
	if out := run(0, "counters", "get", "post_likes", "p9", "--env", "local"); out != "p9 4\n" {
		t.Fatalf("after dev stopped: %q", out)
	}
}
