// Package config owns evctl.yaml: naming templates, platform fields, teams, breaking settings and
// environments. It finds the file (searched upward), reads it with positions and resolves names
// (topic, table, proto package) for an event. It never reads secrets: environments only name the
// variables that hold them.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/yamlsrc"
)

// FileName is the project file evctl looks for.
const FileName = "evctl.yaml"

// Project is evctl.yaml plus where it was found.
type Project struct {
	Version        int                    `yaml:"version"`
	Naming         Naming                 `yaml:"naming"`
	PlatformFields []contract.Field       `yaml:"platform_fields"`
	Teams          map[string]Team        `yaml:"teams"`
	Environments   map[string]Environment `yaml:"environments"`
	Breaking       Breaking               `yaml:"breaking"`
	Links          map[string]string      `yaml:"links"`
	Extra          map[string]any         `yaml:",inline"` // only extensionKeys and x- keys (strictKeys)

	// File is the absolute path of evctl.yaml; Root its folder, the repository root.
	File string       `yaml:"-"`
	Root string       `yaml:"-"`
	Doc  *yamlsrc.Doc `yaml:"-"`
}

// Naming holds the name templates; placeholders {env} {domain} {event} {major}.
type Naming struct {
	Topic         string `yaml:"topic"`
	BigQueryTable string `yaml:"bigquery_table"`
	ProtoPackage  string `yaml:"proto_package"`
	DeltaTable    string `yaml:"delta_table"`
	// ClickHouseTable defaults to {domain}__{event}_v{major} (see ClickHouseTableName).
	ClickHouseTable string `yaml:"clickhouse_table"`
}

// Team is one team of the organisation.
type Team struct {
	Pods   []string `yaml:"pods"`
	GitHub []string `yaml:"github"`
}

// Breaking configures the breaking-change check, as buf.yaml's breaking block does.
type Breaking struct {
	Use    []string `yaml:"use"`
	Except []string `yaml:"except"`
}

// Environment is one place the contracts are provisioned into.
type Environment struct {
	Stages         []string       `yaml:"stages"`
	Kafka          KafkaEnv       `yaml:"kafka"`
	Descriptors    Location       `yaml:"descriptors"`
	State          Location       `yaml:"state"`
	BigQuery       BigQueryEnv    `yaml:"bigquery"`
	Delta          Location       `yaml:"delta"`
	ClickHouse     ClickHouseEnv  `yaml:"clickhouse"`
	Gateway        GatewayEnv     `yaml:"gateway"`
	CredentialsDir string         `yaml:"credentials_dir"`
	Credentials    CredentialsEnv `yaml:"credentials"`
	Counters       CountersEnv    `yaml:"counters"`
	Extra          map[string]any `yaml:",inline"`
}

// CountersEnv names the store engagement counters are kept in (SPEC-dataplane 12):
// redis://host:port/db or file://path (the embedded store, one process at a time).
type CountersEnv struct {
	Store string `yaml:"store"`
	// PasswordEnv names the variable holding the Redis password (never in the file).
	PasswordEnv string `yaml:"password_env"`
}

// Hosts reports whether events of the given stage are provisioned in this environment.
func (e Environment) Hosts(stage string) bool {
	for _, s := range e.Stages {
		if s == stage {
			return true
		}
	}
	return false
}

// KafkaEnv is how to reach the environment's Kafka cluster.
type KafkaEnv struct {
	Brokers           []string `yaml:"brokers"`
	SASL              SASL     `yaml:"sasl"`
	TLS               KafkaTLS `yaml:"tls"`
	ReplicationFactor int      `yaml:"replication_factor"`
}

// KafkaTLS is how evctl's Kafka clients encrypt and (with cert_file and key_file: mutual TLS)
// authenticate their connections. Relative paths are relative to the repository root. Without
// ca_file the system roots verify the brokers.
type KafkaTLS struct {
	Enabled    bool   `yaml:"enabled"`
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

// SASL names the mechanism and the environment variables holding the admin credentials.
type SASL struct {
	Mechanism   string `yaml:"mechanism"`
	UserEnv     string `yaml:"user_env"`
	PasswordEnv string `yaml:"password_env"`
	// TokenEnv names the variable holding the OAUTHBEARER token (mechanism OAUTHBEARER only).
	TokenEnv string `yaml:"token_env"`
}

// Location is a gs:// or file:// URL.
type Location struct {
	URL string `yaml:"url"`
}

// BigQueryEnv is the environment's BigQuery dataset.
type BigQueryEnv struct {
	Project     string `yaml:"project"`
	Dataset     string `yaml:"dataset"`
	Location    string `yaml:"location"`
	EndpointEnv string `yaml:"endpoint_env"`
	// StagingURL is where batch ingestion stages Parquet files for load jobs (gs://bucket/prefix).
	StagingURL string `yaml:"staging_url"`
}

// GatewayEnv configures `evctl gateway` in the environment.
type GatewayEnv struct {
	Listen        string   `yaml:"listen"`
	Poll          string   `yaml:"poll"`
	TokensEnv     string   `yaml:"tokens_env"`
	MaxBody       string   `yaml:"max_body"`
	UnknownFields string   `yaml:"unknown_fields"` // reject (default) | drop
	CORSOrigins   []string `yaml:"cors_origins"`
	// ReadTimeout bounds reading a whole request, body included; IdleTimeout a keep-alive
	// connection's wait for its next request (durations such as 30s; gateway defaults apply).
	ReadTimeout string `yaml:"read_timeout"`
	IdleTimeout string `yaml:"idle_timeout"`
}

// Defaults applied when evctl.yaml leaves naming out.
var defaultNaming = Naming{
	Topic:         "{env}.{domain}.{event}.v{major}",
	BigQueryTable: "{domain}__{event}_v{major}",
	ProtoPackage:  "events.{domain}.v{major}",
	DeltaTable:    "{domain}/{event}_v{major}",
}

// ErrNotFound is returned by Find when no evctl.yaml exists in dir or above it.
var ErrNotFound = errors.New("config: no " + FileName + " found in this folder or any parent; run `evctl init`")

// Find returns the path of evctl.yaml: explicit when set, else searched upward from dir.
func Find(explicit, dir string) (string, error) {
	if explicit != "" {
		abs, err := filepath.Abs(explicit)
		if err != nil {
			return "", fmt.Errorf("config: %w", err)
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("config: %w", err)
		}
		return abs, nil
	}
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	for {
		p := filepath.Join(d, FileName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", ErrNotFound
		}
		d = up
	}
}

// Load reads evctl.yaml at path. Problems in the file come back as diagnostics (positions are
// relative to the repository root); an unreadable file is an error.
func Load(path string) (*Project, diag.List, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	p, diags := Parse(FileName, data)
	p.File = path
	p.Root = filepath.Dir(path)
	return p, diags, nil
}

// Parse reads evctl.yaml from data; name is used in positions.
func Parse(name string, data []byte) (*Project, diag.List) {
	p := &Project{}
	doc, diags := yamlsrc.Parse(name, data)
	if doc != nil {
		p.Doc = doc
		diags.Add(doc.Decode(p)...)
		diags.Add(strictKeys(doc)...)
		for i := range p.PlatformFields {
			p.PlatformFields[i].Path = fmt.Sprintf("platform_fields[%d]", i)
		}
	}
	if p.Naming.Topic == "" {
		p.Naming.Topic = defaultNaming.Topic
	}
	if p.Naming.BigQueryTable == "" {
		p.Naming.BigQueryTable = defaultNaming.BigQueryTable
	}
	if p.Naming.ProtoPackage == "" {
		p.Naming.ProtoPackage = defaultNaming.ProtoPackage
	}
	if p.Naming.DeltaTable == "" {
		p.Naming.DeltaTable = defaultNaming.DeltaTable
	}
	return p, diags
}

// Pos returns the position of a path in evctl.yaml.
func (p *Project) Pos(path string) diag.Pos {
	if p.Doc == nil {
		return diag.Pos{File: FileName, Line: 1, Col: 1}
	}
	return p.Doc.Pos(path)
}

// Env returns the named environment.
func (p *Project) Env(name string) (Environment, error) {
	e, ok := p.Environments[name]
	if !ok {
		names := make([]string, 0, len(p.Environments))
		for n := range p.Environments {
			names = append(names, n)
		}
		sort.Strings(names)
		return Environment{}, fmt.Errorf("config: no environment %q in %s (have: %s)", name, FileName, strings.Join(names, ", "))
	}
	return e, nil
}

// Expand fills a naming template for an event in an environment.
func Expand(tmpl, env, domain, event string, major int) string {
	r := strings.NewReplacer("{env}", env, "{domain}", domain, "{event}", event, "{major}", strconv.Itoa(major))
	return r.Replace(tmpl)
}

// TopicName is the Kafka topic of an event in env.
func (p *Project) TopicName(env string, ev *contract.Event) string {
	return Expand(p.Naming.Topic, env, ev.Domain, ev.Name, ev.Major)
}

// TableName is the BigQuery table of an event.
func (p *Project) TableName(env string, ev *contract.Event) string {
	return Expand(p.Naming.BigQueryTable, env, ev.Domain, ev.Name, ev.Major)
}

// DeltaTableName is the Delta table path of an event, relative to the environment's delta.url.
func (p *Project) DeltaTableName(env string, ev *contract.Event) string {
	return Expand(p.Naming.DeltaTable, env, ev.Domain, ev.Name, ev.Major)
}

// ProtoPackage is the proto package of a form-path event.
func (p *Project) ProtoPackage(ev *contract.Event) string {
	return Expand(p.Naming.ProtoPackage, "", ev.Domain, ev.Name, ev.Major)
}
