// Package bqemulator starts and stops goccy/bigquery-emulator (installed into .tools/bin by
// scripts/install-bigquery-emulator.sh) on loopback ports chosen at run time: its REST API and
// its Storage Write API (gRPC). evctl dev runs one for the local environment, and tests that
// need BigQuery run one each. It only starts the process; talking to it is the BigQuery
// clients' business.
package bqemulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// BinName is the emulator's executable name.
const BinName = "bigquery-emulator"

// ErrNotInstalled is returned by Find when no emulator binary is installed.
var ErrNotInstalled = errors.New("bqemulator: bigquery-emulator is not installed (scripts/install-bigquery-emulator.sh builds it once, about 18 minutes; scripts/install-tools.sh and make test run it)")

// Find returns the emulator binary: <root>/.tools/bin/bigquery-emulator, else one beside the
// running executable (make build puts evctl in that same .tools/bin), else one on PATH.
func Find(root string) (string, error) {
	var dirs []string
	if root != "" {
		dirs = append(dirs, filepath.Join(root, ".tools", "bin"))
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	for _, d := range dirs {
		p := filepath.Join(d, BinName)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(BinName); err == nil {
		return p, nil
	}
	return "", ErrNotInstalled
}

// Options configure Start.
type Options struct {
	Bin     string // the executable (Find)
	Project string // the one project it serves
	Dataset string // created at start ("" : none)
	// GCSHost is the GCS server load jobs read gs:// URIs from (host:port of fake-gcs-server,
	// given to the emulator as STORAGE_EMULATOR_HOST); "" leaves the caller's environment.
	GCSHost string
	Logs    io.Writer // the emulator's output (nil: discarded)
	// Ready bounds the wait for the REST API to answer (default one minute).
	Ready time.Duration
}

// Emulator is a running emulator process.
type Emulator struct {
	REST string // host:port of the REST API
	GRPC string // host:port of the Storage Write API
	cmd  *exec.Cmd
	done chan error
}

// Start starts the emulator (in memory: its tables live as long as the process, because
// v0.6.6 reopened on its database file cannot run load jobs) and waits until its REST API
// answers. ctx bounds that wait only: the process runs until Stop, so that workers still flushing
// at shutdown find it (the caller stops it after them).
func Start(ctx context.Context, o Options) (*Emulator, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	args := []string{"--project=" + o.Project, "--host=127.0.0.1", "--port=" + strconv.Itoa(ports[0]),
		"--grpc-port=" + strconv.Itoa(ports[1]), "--log-level=error"}
	if o.Dataset != "" {
		args = append(args, "--dataset="+o.Dataset)
	}
	cmd := exec.Command(o.Bin, args...)
	cmd.Env = os.Environ()
	if o.GCSHost != "" {
		cmd.Env = append(cmd.Env, "STORAGE_EMULATOR_HOST=http://"+o.GCSHost)
	}
	if o.Logs == nil {
		o.Logs = io.Discard
	}
	cmd.Stdout, cmd.Stderr = o.Logs, o.Logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bqemulator: start %s: %w", o.Bin, err)
	}
	e := &Emulator{REST: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), GRPC: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		cmd: cmd, done: make(chan error, 1)}
	go func() { e.done <- cmd.Wait() }() // owned by e: Stop waits for it
	if o.Ready <= 0 {
		o.Ready = time.Minute
	}
	deadline := time.Now().Add(o.Ready)
	for !Answers(ctx, e.REST, o.Project) {
		select {
		case err := <-e.done:
			e.done <- err
			return nil, fmt.Errorf("bqemulator: %s exited at start: %v", o.Bin, err)
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			e.Stop()
			return nil, fmt.Errorf("bqemulator: %s did not answer on %s within %s", o.Bin, e.REST, o.Ready)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return e, nil
}

// Stop kills the process and waits for it to be gone.
func (e *Emulator) Stop() {
	if e == nil || e.cmd == nil {
		return
	}
	_ = e.cmd.Process.Kill()
	err := <-e.done
	e.done <- err
}

// Answers reports whether a BigQuery REST API at addr (host:port) lists project's datasets.
func Answers(ctx context.Context, addr, project string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/projects/"+project+"/datasets", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// freePorts returns n distinct free loopback ports, holding each listener until all are chosen
// (one closed early can be handed out again, and the emulator then fails to bind).
func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("bqemulator: %w", err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}
