package envconn_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
)

const cfg = `version: 1
naming: {topic: "{env}.{domain}.{event}.v{major}", bigquery_table: "{domain}__{event}_v{major}", proto_package: "events.{domain}.v{major}"}
teams:
  growth: {pods: [feed], github: ["@acme/growth"]}
environments:
  local:
    stages: [staging, prod]
    kafka: {brokers: [%q], sasl: {mechanism: SCRAM-SHA-256, user_env: EVCTL_KAFKA_USER, password_env: EVCTL_KAFKA_PASSWORD}}
    descriptors: {url: "file://.evctl/descriptors"}
    state: {url: %q}
`

func project(t *testing.T, broker, stateURL string) *config.Project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.FileName), fmt.Appendf(nil, cfg, broker, stateURL), 0o644); err != nil {
		t.Fatal(err)
	}
	p, diags, err := config.Load(filepath.Join(dir, config.FileName))
	if err != nil || len(diags) > 0 {
		t.Fatalf("load: %v %v", err, diags)
	}
	return p
}

func observe(t *testing.T, s sink.Sink) error {
	_, err := s.Observe(context.Background(), []sink.Desired{{Kind: s.Kind(), Name: "x"}})
	return err
}

// TestOpen connects to a real cluster with the admin credentials from the named variables and
// resolves relative file:// URLs under the repository root.
func TestOpen(t *testing.T) {
	kc := kafkatest.Start(t)
	p := project(t, kc.Addrs[0], "file://.evctl/state")
	vars := map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": kc.AdminPassword}
	c, err := envconn.Open(context.Background(), p, "local", envconn.Options{Getenv: func(k string) string { return vars[k] }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Kafka == nil {
		t.Fatalf("no Kafka client")
	}
	for _, kind := range []string{"descriptor", "kafka_user", "kafka_topic", "kafka_acl"} {
		if s := c.Registry.Get(kind); s == nil {
			t.Errorf("no %s sink", kind)
		}
	}
	if want := "file://" + filepath.Join(p.Root, ".evctl", "state"); c.State.URL() != want {
		t.Errorf("state URL %q, want %q", c.State.URL(), want)
	}
}

// TestOpenWithoutCredentials: missing admin variables make the Kafka sinks unavailable with a
// message naming them (and the way to get them locally); the other sinks still work.
func TestOpenWithoutCredentials(t *testing.T) {
	kc := kafkatest.Start(t)
	p := project(t, kc.Addrs[0], "file://.evctl/state")
	c, err := envconn.Open(context.Background(), p, "local", envconn.Options{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, kind := range []string{"kafka_user", "kafka_topic", "kafka_acl"} {
		err := observe(t, c.Registry.Get(kind))
		if err == nil || !strings.Contains(err.Error(), "EVCTL_KAFKA_USER and EVCTL_KAFKA_PASSWORD") || !strings.Contains(err.Error(), ".evctl/dev/env") {
			t.Errorf("%s: %v, want the variables named", kind, err)
		}
	}
	if err := observe(t, c.Registry.Get("descriptor")); err != nil {
		t.Errorf("descriptor sink: %v", err)
	}
}

// TestOpenWrongPassword: credentials the cluster refuses make the Kafka sinks unavailable (within
// the connect timeout) and never put the password in the error.
func TestOpenWrongPassword(t *testing.T) {
	kc := kafkatest.Start(t)
	p := project(t, kc.Addrs[0], "file://.evctl/state")
	vars := map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": "not-the-password-x9"}
	c, err := envconn.Open(context.Background(), p, "local", envconn.Options{Getenv: func(k string) string { return vars[k] },
		ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = observe(t, c.Registry.Get("kafka_topic"))
	if err == nil || !strings.Contains(err.Error(), "kafka: connect to") || strings.Contains(err.Error(), vars["EVCTL_KAFKA_PASSWORD"]) {
		t.Fatalf("wrong password: %v", err)
	}
}

// TestOpenNoState: without a state store nothing can be recorded: an error.
func TestOpenNoState(t *testing.T) {
	p := project(t, "127.0.0.1:1", "")
	if _, err := envconn.Open(context.Background(), p, "local", envconn.Options{Getenv: func(string) string { return "" }}); err == nil || !strings.Contains(err.Error(), "state.url") {
		t.Fatalf("no state url: %v", err)
	}
}
