package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Server is a running redis-server.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	out  *bytes.Buffer
}

// URL is redis://addr/db.
func (s *Server) URL(db int) string { return fmt.Sprintf("redis://%s/%d", s.Addr, db) }

// Start starts redis-server (with args appended, e.g. "--requirepass", "pw") and stops it when
// the test ends.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redistest: redis-server is not installed (scripts/install-tools.sh installs Debian's): %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), out: &bytes.Buffer{}}
		s.cmd = exec.Command(bin, append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning", "--dir", tb.TempDir()}, args...)...)
		s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
		if err := s.cmd.Start(); err != nil {
			tb.Fatalf("redistest: start redis-server: %v", err)
		}
		if lastErr = s.waitReady(10 * time.Second); lastErr == nil {
			tb.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
			return s
		}
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
	tb.Fatalf("redistest: redis-server did not start: %v", lastErr)
	return nil
}

func (s *Server) waitReady(limit time.Duration) error {
	rdb := goredis.NewClient(&goredis.Options{Addr: s.Addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		// A server started with --requirepass answers NOAUTH: it is up.
		if err == nil || strings.Contains(err.Error(), "NOAUTH") {
			return nil
		}
		if s.cmd.ProcessState != nil || time.Now().After(deadline) {
			return fmt.Errorf("%v (output: %s)", err, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort asks the kernel for a free loopback port. Another process may take it before
// redis-server binds; Start retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
