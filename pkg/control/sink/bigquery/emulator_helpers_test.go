package bigquery_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/evctl/evctl/pkg/control/sink/bigquery"
)

// The emulator tests run goccy/bigquery-emulator, a real BigQuery REST server, started once for
// the package on loopback ports chosen at run time, with project "test" and dataset "events".
// A missing binary fails the tests with the install command: they are never skipped silently.

const emulatorInstall = "scripts/install-bigquery-emulator.sh (from the repository root; installs clang if missing and builds .tools/bin/bigquery-emulator once, about 18 minutes)"

var emu struct {
	once   sync.Once
	cmd    *exec.Cmd
	exited chan error // receives cmd.Wait's result: the one goroutine that waits owns it
	url    string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if emu.cmd != nil && emu.cmd.Process != nil {
		_ = emu.cmd.Process.Kill()
		<-emu.exited
	}
	os.Exit(code)
}

// emulator returns the base URL of the running emulator, starting it on first use.
func emulator(t *testing.T) string {
	t.Helper()
	emu.once.Do(func() { emu.url, emu.err = startEmulator() })
	if emu.err != nil {
		t.Fatal(emu.err)
	}
	return emu.url
}

func startEmulator() (string, error) {
	bin, err := emulatorBinary()
	if err != nil {
		return "", err
	}
	ports, err := freePorts(2)
	if err != nil {
		return "", err
	}
	port, grpcPort := ports[0], ports[1]
	cmd := exec.Command(bin, "--project=test", "--dataset=events", "--host=127.0.0.1",
		"--port="+strconv.Itoa(port), "--grpc-port="+strconv.Itoa(grpcPort), "--log-level=error")
	// Its log (an ERROR line for every expected 404) is kept out of the test output, and shown
	// only when it fails to start.
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", bin, err)
	}
	emu.cmd = cmd
	exited := make(chan error, 1)
	emu.exited = exited
	go func() { exited <- cmd.Wait() }()
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	// Readiness, not a performance bound: the emulator answers once its HTTP server is up.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			emu.cmd = nil
			return "", fmt.Errorf("bigquery-emulator exited before answering: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(url + "/projects/test/datasets")
		if err == nil {
			resp.Body.Close()
			return url, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", errors.New("bigquery-emulator did not answer within 60s")
}

// emulatorBinary finds .tools/bin/bigquery-emulator at the repository root.
func emulatorBinary() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod) not found")
		}
		dir = parent
	}
	bin := filepath.Join(dir, ".tools", "bin", "bigquery-emulator")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("the BigQuery emulator is not installed (%s missing): run %s", bin, emulatorInstall)
	}
	return bin, nil
}

// freePorts returns n distinct free loopback ports, holding every listener until all are chosen
// (one closed early can be handed out again, and the emulator cannot bind two servers to it).
func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// emulatorSink returns the sink and a raw client (for changes "by hand") on the emulator.
func emulatorSink(t *testing.T) (*bigquery.TableSink, *bq.Client) {
	t.Helper()
	url := emulator(t)
	ctx := context.Background()
	c, err := bigquery.Connect(ctx, bigquery.Config{Project: "test", Endpoint: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := bq.NewClient(ctx, "test", option.WithEndpoint(url), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return bigquery.NewTableSink(c), raw
}
