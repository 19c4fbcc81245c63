package devstack_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/devstack"
)

// startBigQueryEmulator runs goccy/bigquery-emulator (.tools/bin, installed by
// scripts/install-tools.sh) on a loopback port chosen at run time; it fails, never skips, when
// the binary is missing.
func startBigQueryEmulator(t *testing.T, project string) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("..", "..", ".tools", "bin", "bigquery-emulator"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the BigQuery emulator is not installed (%v): run scripts/install-tools.sh", err)
	}
	addr, grpcAddr := freeAddr(t), freeAddr(t)
	for grpcAddr == addr { // a port closed by freeAddr can be handed out again at once
		grpcAddr = freeAddr(t)
	}
	port, grpcPort := addr[strings.LastIndexByte(addr, ':')+1:], grpcAddr[strings.LastIndexByte(grpcAddr, ':')+1:]
	cmd := exec.Command(bin, "--project="+project, "--dataset=events", "--host=127.0.0.1",
		"--port="+port, "--grpc-port="+grpcPort, "--log-level=error")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	// Readiness only: the deadline bounds a broken emulator, it is not a performance bound.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("bigquery-emulator exited: %v\n%s", err, logs.String())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/projects/" + project + "/datasets"); err == nil {
			resp.Body.Close()
			return addr
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(errors.New("bigquery-emulator did not answer"))
	return ""
}

// TestAttackDevIgnoresExportedEmulatorHost: an exported BIGQUERY_EMULATOR_HOST (the
// environment's bigquery.endpoint_env) is honoured before evctl's own variable and port 9050,
// and an emulator started after the stack is found by RefreshBigQuery, which rewrites the env
// file.
func TestAttackDevIgnoresExportedEmulatorHost(t *testing.T) {
	ws := devRepo(t)
	cfgPath := filepath.Join(ws.Root(), config.FileName)
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, []byte("    bigquery: {project: local, dataset: events, endpoint_env: BIGQUERY_EMULATOR_HOST}\n")...)
	proj, diags := config.Parse(cfgPath, b)
	if len(diags) != 0 {
		t.Fatal(diags)
	}
	proj.Root = ws.Root()

	// Nothing answers yet at the exported address: the stack starts without BigQuery.
	bqAddr := freeAddr(t)
	vars := map[string]string{"BIGQUERY_EMULATOR_HOST": bqAddr, "EVCTL_DEV_BIGQUERY_ADDR": freeAddr(t)}
	getenv := func(k string) string { return vars[k] }
	st, err := devstack.Start(testCtx(t), devstack.Options{Project: proj, Env: "local", GCSAddr: "127.0.0.1:0", Getenv: getenv,
		NoBigQueryEmulator: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.BigQuery() != "" {
		st.Close()
		t.Fatalf("emulator reported at %s before one runs", st.BigQuery())
	}
	// The emulator comes up at the exported address (http:// form, as some tools export it).
	addr := startBigQueryEmulator(t, "local")
	vars["BIGQUERY_EMULATOR_HOST"] = "http://" + addr
	ok, err := st.RefreshBigQuery(context.Background())
	st.Close()
	if err != nil || !ok || st.BigQuery() != addr {
		t.Fatalf("refresh: %v %v %q, want %s", ok, err, st.BigQuery(), addr)
	}
	env, err := os.ReadFile(st.EnvFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("export BIGQUERY_EMULATOR_HOST='%s'", addr); !strings.Contains(string(env), want) {
		t.Errorf("env file lacks %s:\n%s", want, env)
	}

	// A new stack finds it at start from the exported variable alone.
	st2, err := devstack.Start(testCtx(t), devstack.Options{Project: proj, Env: "local", GCSAddr: "127.0.0.1:0", Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if st2.BigQuery() != addr {
		t.Errorf("start: %q, want the exported %s", st2.BigQuery(), addr)
	}
}
