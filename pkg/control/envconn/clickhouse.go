package envconn

import (
	"context"
	"fmt"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse"
)

// connectClickHouse wires the clickhouse_table and clickhouse_view sinks; none when the
// environment names no clickhouse url. An unreachable server makes both unavailable (plans show
// their resources unreadable, the other sinks go on). The credentials come from the variables
// clickhouse.user_env and password_env name, and go only into HTTP basic auth.
func connectClickHouse(ctx context.Context, ch config.ClickHouseEnv, opts Options) []sink.Sink {
	if ch.URL == "" {
		return nil
	}
	user, password := "", ""
	if ch.UserEnv != "" {
		user = opts.Getenv(ch.UserEnv)
	}
	if ch.PasswordEnv != "" {
		password = opts.Getenv(ch.PasswordEnv)
	}
	unavailable := func(err error) []sink.Sink {
		return []sink.Sink{sink.Unavailable(clickhouse.KindTable, err), sink.Unavailable(clickhouse.KindView, err)}
	}
	conn, err := clickhouse.NewConn(ch.URL, ch.DatabaseName(), user, password)
	if err != nil {
		return unavailable(err)
	}
	cctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	if _, err := conn.Features(cctx); err != nil {
		return unavailable(fmt.Errorf("clickhouse: %s: %w", ch.URL, err))
	}
	return []sink.Sink{clickhouse.NewTableSink(conn), clickhouse.NewViewSink(conn)}
}
