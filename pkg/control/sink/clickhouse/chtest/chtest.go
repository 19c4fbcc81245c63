// Package chtest starts a real clickhouse-server for a test: loopback ports chosen at run time,
// data in t.TempDir(), killed by t.Cleanup. A missing binary fails the test (scripts/install-tools.sh
// installs it); it never skips.
package chtest

import (
	"context"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chserver"
)

// Start starts a server for t and returns it.
func Start(t testing.TB) *chserver.Server {
	t.Helper()
	s, err := chserver.Start(context.Background(), t.TempDir())
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}
