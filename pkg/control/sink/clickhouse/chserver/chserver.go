// Package chserver starts Debian's clickhouse-server as a plain child process (never the system
// service) from a config it writes into a directory of its own: data, logs and ports are the
// caller's, listening on loopback only. The sink's and the ingest writer's tests start one per
// test, and `evctl dev` starts one for the local environment. It does not talk SQL beyond /ping.
package chserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// EnvBinary names a variable that overrides where the server binary is looked up.
const EnvBinary = "EVCTL_CLICKHOUSE_SERVER"

// ErrNoBinary is returned by Find and Start when no clickhouse-server is installed.
var ErrNoBinary = errors.New("chserver: clickhouse-server not found (scripts/install-tools.sh installs Debian's package; or set " + EnvBinary + ")")

// Server is one running clickhouse-server.
type Server struct {
	// URL is the HTTP interface, "http://127.0.0.1:<port>".
	URL string
	// TCPAddr is the native protocol's address.
	TCPAddr string
	// Dir holds the config, data and logs.
	Dir string

	cmd  *exec.Cmd
	done chan error
}

// Find returns the path of clickhouse-server, or ErrNoBinary.
func Find() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("chserver: %s=%s: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	p, err := exec.LookPath("clickhouse-server")
	if err != nil {
		return "", ErrNoBinary
	}
	return p, nil
}

// Start writes a config under dir (which must exist), starts the server on free loopback ports
// and waits until /ping answers or ctx ends. The server's stdout and stderr go to dir/log.
// The returned Server must be stopped with Stop.
func Start(ctx context.Context, dir string) (*Server, error) { return StartOn(ctx, dir, 0) }

// StartOn is Start with the HTTP interface on httpPort (0: a free one), for `evctl dev`, whose
// environment names a fixed url. Data in dir survives a restart.
func StartOn(ctx context.Context, dir string, httpPort int) (*Server, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	if httpPort == 0 {
		if httpPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	tcpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("chserver: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(configXML(dir, httpPort, tcpPort)), 0o644); err != nil {
		return nil, fmt.Errorf("chserver: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersXML), 0o644); err != nil {
		return nil, fmt.Errorf("chserver: %w", err)
	}
	out, err := os.Create(filepath.Join(dir, "log", "stdout.log"))
	if err != nil {
		return nil, fmt.Errorf("chserver: %w", err)
	}
	defer out.Close()
	// Not exec.CommandContext: the server outlives the start-up context; Stop ends it.
	cmd := exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("chserver: start %s: %w", bin, err)
	}
	s := &Server{
		URL:     "http://127.0.0.1:" + strconv.Itoa(httpPort),
		TCPAddr: "127.0.0.1:" + strconv.Itoa(tcpPort),
		Dir:     dir, cmd: cmd, done: make(chan error, 1),
	}
	go func() { s.done <- cmd.Wait() }() // owned by s: Stop waits for it
	if err := s.waitReady(ctx); err != nil {
		s.Kill()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/ping", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			log, _ := os.ReadFile(filepath.Join(s.Dir, "log", "stdout.log"))
			return fmt.Errorf("chserver: clickhouse-server exited during start-up (%v): %s", err, tail(string(log), 2000))
		case <-ctx.Done():
			return fmt.Errorf("chserver: clickhouse-server at %s did not answer /ping: %w", s.URL, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop asks the server to shut down (SIGTERM), kills it after 5 s, and waits for it to exit.
// It is safe to call more than once.
func (s *Server) Stop() { s.stop(syscall.SIGTERM, 5*time.Second) }

// Kill ends the server at once (SIGKILL) and waits for it: for throwaway test data, where a
// clean shutdown only costs time.
func (s *Server) Kill() { s.stop(syscall.SIGKILL, 0) }

func (s *Server) stop(sig syscall.Signal, grace time.Duration) {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		err := <-s.done
		s.done <- err
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("chserver: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// configXML is the stock config reduced to what a single local server needs, with every path
// under dir and both ports on 127.0.0.1. The memory caches are small: a test server holds little.
func configXML(dir string, httpPort, tcpPort int) string {
	p := func(sub string) string { return filepath.Join(dir, sub) + "/" }
	r := strings.NewReplacer("{log}", filepath.Join(dir, "log"), "{data}", p("data"), "{tmp}", p("tmp"),
		"{uf}", p("user_files"), "{fs}", p("format_schemas"),
		"{http}", strconv.Itoa(httpPort), "{tcp}", strconv.Itoa(tcpPort))
	return r.Replace(`<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{log}/server.log</log><errorlog>{log}/err.log</errorlog><size>10M</size><count>1</count></logger>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{data}</path>
  <tmp_path>{tmp}</tmp_path>
  <user_files_path>{uf}</user_files_path>
  <format_schema_path>{fs}</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
</yandex>
`)
}

const usersXML = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`
