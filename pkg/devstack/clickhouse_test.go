package devstack_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chserver"
)

var chEvent = strings.Replace(devEvent, "  kafka: {partitions: 2, retention: 1d}\n", `  kafka: {partitions: 2, retention: 1d}
  clickhouse:
    order_by: [item_id, event_time]
    views:
      - name: clicks_daily
        group_by: [item_id, {day: event_time}]
        measures: {clicks: count}
`, 1)

// chRepo is devRepo with a clickhouse url at a free loopback port and an event with a view.
func chRepo(t *testing.T) *workspace.Workspace {
	t.Helper()
	ws := devRepo(t)
	root := ws.Project.Root
	cfg, err := os.ReadFile(filepath.Join(root, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, fmt.Sprintf("    clickhouse: {url: \"http://%s\", database: events}\n", freeAddr(t))...)
	for rel, content := range map[string]string{config.FileName: string(cfg), "contracts/feed/item_clicked.yaml": chEvent} {
		if err := os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ws, err = workspace.Open(filepath.Join(root, config.FileName), root)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestStackStartsClickHouse: evctl dev starts Debian's clickhouse-server at the url the local
// environment names, and the local apply creates the event's table and view on it.
func TestStackStartsClickHouse(t *testing.T) {
	ws := chRepo(t)
	st := start(t, ws, "127.0.0.1:0")
	if st.ClickHouse == nil || st.ClickHouseURL == "" {
		t.Fatalf("no clickhouse server started: %s", st.ClickHouseNote)
	}
	p, r := planApply(t, ws, st, true)
	got := map[string]sink.Action{}
	for _, c := range p.Changes {
		got[c.Kind] = c.Action
	}
	if got[clickhouse.KindTable] != sink.Create || got[clickhouse.KindView] != sink.Create {
		t.Fatalf("plan: %v", got)
	}
	if r.Failed() {
		t.Fatalf("apply failed: %+v", r)
	}
	p, _ = planApply(t, ws, st, false)
	for _, c := range p.Changes {
		if (c.Kind == clickhouse.KindTable || c.Kind == clickhouse.KindView) && c.Action != sink.Noop {
			t.Errorf("after apply: %s %s is %s (%s)", c.Kind, c.Name, c.Action, c.Reason)
		}
	}
}

// TestStackWithoutClickHouseSkips: with no server and no binary, dev says why and the local plan
// skips the ClickHouse resources with that reason instead of failing.
func TestStackWithoutClickHouseSkips(t *testing.T) {
	t.Setenv(chserver.EnvBinary, filepath.Join(t.TempDir(), "no-clickhouse-server"))
	ws := chRepo(t)
	st := start(t, ws, "127.0.0.1:0")
	if st.ClickHouse != nil || !strings.Contains(st.ClickHouseNote, "clickhouse") {
		t.Fatalf("server %v, note %q", st.ClickHouse, st.ClickHouseNote)
	}
	p, _ := planApply(t, ws, st, false)
	n := 0
	for _, c := range p.Changes {
		if c.Kind == clickhouse.KindTable || c.Kind == clickhouse.KindView {
			n++
			if c.Action != sink.Skipped || !strings.Contains(c.Reason, "no server answers") {
				t.Errorf("%s: %s %q, want skipped with the reason", c.Kind, c.Action, c.Reason)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d clickhouse changes, want 2", n)
	}
}
