package envconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse"
)

// clickhouseSinks connects once per environment and hands each of the two kinds its sink.
func (c *Conn) clickhouseSinks(ctx context.Context, opts Options) []sink.Sink {
	if c.clickhouse == nil {
		c.clickhouse = connectClickHouse(ctx, c.Config.ClickHouse, opts)
	}
	return c.clickhouse
}

// connectClickHouse wires the clickhouse_table and clickhouse_view sinks (in that order); not
// configured when the environment names no clickhouse url. An unreachable server makes both unavailable (plans show
// their resources unreadable, the other sinks go on). The credentials come from the variables
// clickhouse.user_env and password_env name, and go only into HTTP basic auth.
func connectClickHouse(ctx context.Context, ch config.ClickHouseEnv, opts Options) []sink.Sink {
	if ch.URL == "" {
		return []sink.Sink{notConfigured(clickhouse.TableDef{}), notConfigured(clickhouse.ViewDef{})}
	}
	user, password := "", ""
	if ch.UserEnv != "" {
		user = opts.Getenv(ch.UserEnv)
	}
	if ch.PasswordEnv != "" {
		password = opts.Getenv(ch.PasswordEnv)
	}
	unavailable := func(err error) []sink.Sink {
		return []sink.Sink{sink.Unavailable(clickhouse.TableDef{}, err), sink.Unavailable(clickhouse.ViewDef{}, err)}
	}
	conn, err := clickhouse.NewConn(ch.URL, ch.DatabaseName(), user, password)
	if err != nil {
		return unavailable(err)
	}
	cctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	if _, err := conn.Features(cctx); err != nil {
		if loopback(ch.URL) && !refused(err) {
			return unavailable(fmt.Errorf("clickhouse: %s: %w", ch.URL, err))
		}
		if loopback(ch.URL) {
			// A laptop without a server: skipped with the reason, as BigQuery without its
			// emulator is, rather than failed.
			reason := "clickhouse: no server answers at " + ch.URL + " (scripts/install-tools.sh installs Debian's clickhouse-server; `evctl dev` starts it)"
			return []sink.Sink{sink.Disabled(clickhouse.TableDef{}, reason), sink.Disabled(clickhouse.ViewDef{}, reason)}
		}
		return unavailable(fmt.Errorf("clickhouse: %s: %w", ch.URL, err))
	}
	return []sink.Sink{clickhouse.NewTableSink(conn), clickhouse.NewViewSink(conn)}
}

func loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
}

// refused reports a connection refused: nothing listens there.
func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
