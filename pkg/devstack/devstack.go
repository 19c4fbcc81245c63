// Package devstack runs the embedded local stack of `evctl dev`: a Kafka-protocol broker (kfake,
// with SASL/SCRAM and ACLs on and an admin superuser for evctl) and a GCS server
// (fake-gcs-server), both in this process, on loopback, persisted under .evctl/dev, at the
// addresses the `local` environment names, plus the installed BigQuery emulator and
// clickhouse-server as child processes when the environment names them (bigquery.go,
// clickhouse.go). It writes .evctl/dev/env with the variables that environment reads. It never
// talks to anything but loopback.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chserver"
	"github.com/evctl/evctl/pkg/data/ingest/bigquery/bqemulator"
)

// AdminUser is the Kafka superuser evctl applies as on the local stack.
const AdminUser = "evctl-admin"

// DefaultGCSAddr is where the GCS server listens unless EVCTL_DEV_GCS_ADDR says otherwise.
const DefaultGCSAddr = "127.0.0.1:4443"

// Options configure Start.
type Options struct {
	Project *config.Project
	Env     string // "local"
	// Dir holds the persisted data and the env file (default <root>/.evctl/dev).
	Dir string
	// GCSAddr overrides DefaultGCSAddr.
	GCSAddr string
	// KafkaAddr overrides the environment's first broker (tests pass 127.0.0.1:0).
	KafkaAddr string
	// Getenv reads the caller's environment (default os.Getenv).
	Getenv func(string) string
	// NoBigQueryEmulator leaves the installed BigQuery emulator unstarted: only one already
	// answering is used (tests that start their own).
	NoBigQueryEmulator bool
}

// Stack is a running local stack.
type Stack struct {
	Kafka         *kfake.Cluster
	KafkaAddr     string
	GCS           *fakestorage.Server
	GCSAddr       string
	AdminPassword string
	EnvFile       string
	// Vars are the variables written to EnvFile.
	Vars map[string]string
	// ClickHouse is the server this stack started (nil when one was already running, or none
	// could be); ClickHouseURL the server the local environment uses ("" when none);
	// ClickHouseNote why there is none (clickhouse.go).
	ClickHouse     *chserver.Server
	ClickHouseURL  string
	ClickHouseNote string
	// BigQueryEmulator is the emulator this stack started (nil when one was already running,
	// or none could be); BigQueryNote says why there is none, or what is missing (bigquery.go).
	BigQueryEmulator *bqemulator.Emulator
	BigQueryNote     string

	bqLogs *os.File
	env    config.Environment
	getenv func(string) string
}

// Close stops the servers; their data stays on disk.
func (s *Stack) Close() {
	if s.Kafka != nil {
		s.Kafka.Close()
	}
	if s.GCS != nil {
		s.GCS.Stop()
	}
	if s.ClickHouse != nil {
		s.ClickHouse.Stop()
	}
	s.stopBigQuery()
}

// Start starts the stack.
func Start(ctx context.Context, o Options) (*Stack, error) {
	env, err := o.Project.Env(o.Env)
	if err != nil {
		return nil, err
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(o.Project.Root, ".evctl", "dev")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	s := &Stack{Vars: map[string]string{}, env: env, getenv: o.Getenv}
	s.AdminPassword, err = adminPassword(filepath.Join(o.Dir, "admin-password"))
	if err != nil {
		return nil, err
	}
	if err := s.startKafka(env, o); err != nil {
		return nil, err
	}
	if err := s.startGCS(env, o); err != nil {
		s.Close()
		return nil, err
	}
	if env.Kafka.SASL.UserEnv != "" {
		s.Vars[env.Kafka.SASL.UserEnv] = AdminUser
		s.Vars[env.Kafka.SASL.PasswordEnv] = s.AdminPassword
	}
	s.Vars["STORAGE_EMULATOR_HOST"] = s.GCSAddr
	s.startBigQuery(ctx, env, o)
	s.startClickHouse(ctx, env, o.Dir)
	if err := s.writeEnv(filepath.Join(o.Dir, "env")); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Stack) startKafka(env config.Environment, o Options) error {
	addr := o.KafkaAddr
	if addr == "" && len(env.Kafka.Brokers) > 0 {
		addr = env.Kafka.Brokers[0]
	}
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("devstack: kafka address %q: %w", addr, err)
	}
	port, _ := strconv.Atoi(portStr)
	mech := env.Kafka.SASL.Mechanism
	if mech == "" {
		mech = "SCRAM-SHA-256"
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.EnableSASL(),
		kfake.EnableACLs(),
		kfake.Superuser(mech, AdminUser, s.AdminPassword),
		kfake.DataDir(filepath.Join(o.Dir, "kafka")),
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("devstack: start kafka on %s: %w", addr, err)
	}
	s.Kafka = c
	s.KafkaAddr = c.ListenAddrs()[0]
	return nil
}

func (s *Stack) startGCS(env config.Environment, o Options) error {
	addr := o.GCSAddr
	if addr == "" {
		addr = os.Getenv("EVCTL_DEV_GCS_ADDR")
	}
	if addr == "" {
		addr = DefaultGCSAddr
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("devstack: gcs address %q: %w", addr, err)
	}
	port, _ := strconv.Atoi(portStr)
	if port == 0 {
		port, err = freePort(host)
		if err != nil {
			return err
		}
	}
	root := filepath.Join(o.Dir, "gcs")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: host, Port: uint16(port), StorageRoot: root, PublicHost: net.JoinHostPort(host, strconv.Itoa(port)),
		Writer: discard{},
	})
	if err != nil {
		return fmt.Errorf("devstack: start gcs on %s: %w", addr, err)
	}
	s.GCS = srv
	s.GCSAddr = net.JoinHostPort(host, strconv.Itoa(port))
	for _, u := range []string{env.Descriptors.URL, env.State.URL, env.Delta.URL, env.BigQuery.StagingURL} {
		if b, ok := bucketOf(u); ok {
			if _, err := srv.Backend().GetBucket(b); err != nil {
				srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
			}
		}
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func bucketOf(url string) (string, bool) {
	rest, ok := strings.CutPrefix(url, "gs://")
	if !ok {
		return "", false
	}
	b, _, _ := strings.Cut(rest, "/")
	return b, b != ""
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("devstack: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// adminPassword reads the persisted admin password or creates one (0600), so a restarted stack
// keeps the superuser its persisted data knows.
func adminPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("devstack: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("devstack: %w", err)
	}
	pw := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("devstack: %w", err)
	}
	return pw, nil
}

func (s *Stack) writeEnv(path string) error {
	var b strings.Builder
	b.WriteString("# written by `evctl dev`: source it with . .evctl/dev/env\n")
	keys := make([]string, 0, len(s.Vars))
	for k := range s.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(s.Vars[k]))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("devstack: write env: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("devstack: write env: %w", err)
	}
	s.EnvFile = path
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// DefaultBigQueryAddr is where a BigQuery emulator is looked for last: goccy/bigquery-emulator's
// default port, on loopback.
const DefaultBigQueryAddr = "127.0.0.1:9050"

// BigQuery returns the address of the BigQuery emulator the stack found ("" when none).
func (s *Stack) BigQuery() string {
	if s.env.BigQuery.EndpointEnv == "" {
		return ""
	}
	return s.Vars[s.env.BigQuery.EndpointEnv]
}

// RefreshBigQuery looks for the emulator again (one started after the stack, or moved) and,
// when what it finds differs from the env file, rewrites the file. It reports whether an
// emulator is known now.
func (s *Stack) RefreshBigQuery(ctx context.Context) (bool, error) {
	name, addr := findBigQueryEmulator(ctx, s.env, s.getenv)
	if name == "" || addr == s.Vars[name] {
		return s.BigQuery() != "", nil
	}
	if addr == "" {
		delete(s.Vars, name)
	} else {
		s.Vars[name] = addr
	}
	if s.EnvFile == "" {
		return addr != "", nil
	}
	return addr != "", s.writeEnv(s.EnvFile)
}

// findBigQueryEmulator returns the variable the environment's bigquery.endpoint_env names and the
// address of a BigQuery emulator answering on loopback for the environment's project, or "" for
// the address when none is running (the emulator is a separate program; the local plan then
// marks bigquery_table skipped). It tries, in order: what that variable already holds in the
// caller's environment (an exported BIGQUERY_EMULATOR_HOST), EVCTL_DEV_BIGQUERY_ADDR, and
// DefaultBigQueryAddr.
func findBigQueryEmulator(ctx context.Context, env config.Environment, getenv func(string) string) (string, string) {
	b := env.BigQuery
	if b.EndpointEnv == "" || b.Project == "" {
		return "", ""
	}
	for _, addr := range []string{getenv(b.EndpointEnv), getenv("EVCTL_DEV_BIGQUERY_ADDR"), DefaultBigQueryAddr} {
		addr = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(addr), "http://"), "https://"), "/")
		if addr == "" {
			continue
		}
		if host, _, err := net.SplitHostPort(addr); err != nil || !loopback(host) {
			continue // evctl dev never talks to anything but loopback
		}
		if probeBigQuery(ctx, addr, b.Project) {
			return b.EndpointEnv, addr
		}
	}
	return b.EndpointEnv, ""
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func probeBigQuery(ctx context.Context, addr, project string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/projects/"+project+"/datasets", nil)
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
