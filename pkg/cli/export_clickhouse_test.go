package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chtest"
)

// TestExportClickHouse: the DDL runs as printed on a real 18.16 server, for events of every
// shape in the sample repository; a newer server version gets DateTime64.
func TestExportClickHouse(t *testing.T) {
	dir := generated(t)
	srv := chtest.Start(t)
	c, err := chhttp.New(srv.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{"feed/video_played", "identity/signup_completed", "payments/subscription_renewed", "post_created"} {
		code, out, stderr := runCLI(t, dir, "export", ev, "--format", "clickhouse")
		if code != 0 || !strings.Contains(out, "ENGINE = ReplacingMergeTree") || !strings.Contains(out, "event_time__nanos") {
			t.Fatalf("export %s clickhouse: exit %d %s\n%s", ev, code, stderr, out)
		}
		for _, stmt := range strings.Split(out, ";\n") {
			if stmt = strings.TrimSpace(stmt); stmt == "" {
				continue
			}
			if err := c.Exec(context.Background(), stmt, nil); err != nil {
				t.Fatalf("%s: the exported DDL fails on the server: %v\n%s", ev, err, stmt)
			}
		}
		code, out, _ = runCLI(t, dir, "export", ev, "--format", "clickhouse", "--clickhouse-version", "23.8")
		if code != 0 || !strings.Contains(out, "DateTime64(9, 'UTC')") || strings.Contains(out, "event_time__nanos") {
			t.Errorf("export %s for 23.8:\n%s", ev, out)
		}
	}
}
