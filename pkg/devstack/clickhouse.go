package devstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chserver"
)

// startClickHouse gives the local environment the ClickHouse server its clickhouse.url names:
// one already answering there is used as it is; otherwise Debian's clickhouse-server (installed
// by scripts/install-tools.sh) is started on that port with its data under <dir>/clickhouse.
// Without either, ClickHouseNote says why and the local plan skips clickhouse_table and
// clickhouse_view (envconn disables them when a loopback url does not answer).
func (s *Stack) startClickHouse(ctx context.Context, env config.Environment, dir string) {
	raw := env.ClickHouse.URL
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		s.ClickHouseNote = fmt.Sprintf("clickhouse: url %q does not parse; clickhouse resources are skipped locally", raw)
		return
	}
	if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
		s.ClickHouseNote = fmt.Sprintf("clickhouse: %s is not on loopback; evctl dev only starts or uses local servers", raw)
		return
	}
	if ping(ctx, raw) {
		s.ClickHouseURL = raw
		return
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		s.ClickHouseNote = fmt.Sprintf("clickhouse: url %q names no port", raw)
		return
	}
	if _, err := chserver.Find(); err != nil {
		s.ClickHouseNote = "clickhouse: no server at " + raw + " and no clickhouse-server installed (scripts/install-tools.sh installs Debian's); clickhouse_table and clickhouse_view resources are skipped locally"
		return
	}
	d := filepath.Join(dir, "clickhouse")
	if err := os.MkdirAll(d, 0o700); err != nil {
		s.ClickHouseNote = "clickhouse: " + err.Error()
		return
	}
	srv, err := chserver.StartOn(ctx, d, port)
	if err != nil {
		s.ClickHouseNote = fmt.Sprintf("clickhouse: starting clickhouse-server on %s: %v; clickhouse resources are skipped locally", raw, err)
		return
	}
	s.ClickHouse, s.ClickHouseURL = srv, raw
}

func ping(ctx context.Context, base string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ping", nil)
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
