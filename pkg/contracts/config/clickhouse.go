package config

import "github.com/evctl/evctl/pkg/contracts/contract"

// DefaultClickHouseTable is the naming template of ClickHouse tables when evctl.yaml has none:
// BigQuery's default, so an event's tables read alike in both warehouses.
const DefaultClickHouseTable = "{domain}__{event}_v{major}"

// ClickHouseEnv is how to reach the environment's ClickHouse server (SPEC-dataplane 10). The
// credentials come only from the variables named here.
type ClickHouseEnv struct {
	URL         string `yaml:"url"`      // the HTTP interface, "http://127.0.0.1:8123"
	Database    string `yaml:"database"` // created by apply when absent; default "events"
	UserEnv     string `yaml:"user_env"`
	PasswordEnv string `yaml:"password_env"`
}

// DatabaseName is Database, or "events".
func (c ClickHouseEnv) DatabaseName() string {
	if c.Database == "" {
		return "events"
	}
	return c.Database
}

// ClickHouseTableName is the ClickHouse base table of an event (naming.clickhouse_table).
func (p *Project) ClickHouseTableName(env string, ev *contract.Event) string {
	tmpl := p.Naming.ClickHouseTable
	if tmpl == "" {
		tmpl = DefaultClickHouseTable
	}
	return Expand(tmpl, env, ev.Domain, ev.Name, ev.Major)
}
