package cli_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/cli"
)

// TestGatewayPprofAddrInUse: --pprof-addr is listened on before the gateway serves, so an
// address that cannot be had stops the command with an error naming the profiles' listener.
func TestGatewayPprofAddrInUse(t *testing.T) {
	dir := sampleRepo(t, true)
	// The local environment's store is evctl dev's fake GCS; a directory will do here.
	yml := filepath.Join(dir, "evctl.yaml")
	b, err := os.ReadFile(yml)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(yml, bytes.ReplaceAll(b, []byte("gs://evctl-local/descriptors"), []byte("file://.evctl/descriptors")), 0o644); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var out, errBuf bytes.Buffer
	env := map[string]string{"EVCTL_KAFKA_USER": "u", "EVCTL_KAFKA_PASSWORD": "p"} // no connection is made
	code := cli.Run(context.Background(), &cli.IOStreams{
		In: strings.NewReader(""), Out: &out, ErrOut: &errBuf, WorkDir: dir,
		Getenv: func(k string) string { return env[k] },
	}, []string{"gateway", "--env", "local", "--listen", "127.0.0.1:0", "--pprof-addr", taken.Addr().String()})
	errOut := errBuf.String()
	if code != 1 || !strings.Contains(errOut, "gateway: profiles:") || !strings.Contains(errOut, "address already in use") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
