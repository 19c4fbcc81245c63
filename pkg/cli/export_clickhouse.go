package cli

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse"
)

// defaultClickHouseVersion is the server `export --format clickhouse` writes DDL for unless
// --clickhouse-version says otherwise: Debian's package, the oldest evctl supports.
const defaultClickHouseVersion = "18.16"

// exportClickHouse prints the DDL apply would run for the event: database "events" (or the
// one environment `local` names), table named by naming.clickhouse_table, its views.
func exportClickHouse(p *config.Project, ev *contract.Event, md protoreflect.MessageDescriptor, version string) ([]byte, error) {
	db := "events"
	if e, err := p.Env("local"); err == nil {
		db = e.ClickHouse.DatabaseName()
	}
	if ev.Sinks.ClickHouse == nil {
		ev2 := *ev
		ev2.Sinks.ClickHouse = &contract.ClickHouseSink{} // the table alone, ordered by event_time
		ev = &ev2
	}
	s, err := clickhouse.DDL(ev, md, db, p.ClickHouseTableName("local", ev), typemap.CHFeaturesFor(version))
	return []byte(s), err
}
