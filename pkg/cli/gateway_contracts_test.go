package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// configOnly is the workspace the gateway opens when it serves no counters: evctl.yaml alone.
func configOnly(t *testing.T, root string) *workspace.Workspace {
	t.Helper()
	p, diags, err := config.Load(filepath.Join(root, "evctl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return &workspace.Workspace{Project: p, Diags: diags}
}

// TestGatewayContractsMatchWorkspace: reading each contract on demand answers what the whole
// workspace answers, for every event of the repository's own contracts, and nothing for an event
// without a contract.
func TestGatewayContractsMatchWorkspace(t *testing.T) {
	ws, err := workspace.Open("", "../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(ws.Events) < 5 {
		t.Fatalf("%d events in the repository's contracts", len(ws.Events))
	}
	lazy := newGatewayContracts(configOnly(t, ws.Root()))
	withKey, withProducers := 0, 0
	for _, ev := range ws.Events {
		a, ok := lazy.event(ev.ID())
		if !ok {
			t.Errorf("%s: not found", ev.ID())
			continue
		}
		var key []string
		if ev.Sinks.Kafka != nil {
			key = ev.Sinks.Kafka.Key
		}
		if !slices.Equal(a.producers, ev.Access.Producers) || !slices.Equal(a.key, key) {
			t.Errorf("%s: producers %v key %v, want %v %v", ev.ID(), a.producers, a.key, ev.Access.Producers, key)
		}
		if len(key) > 0 {
			withKey++
		}
		if len(ev.Access.Producers) > 0 {
			withProducers++
		}
	}
	if withKey == 0 || withProducers == 0 {
		t.Fatalf("the repository's contracts exercise no key (%d) or no producers (%d)", withKey, withProducers)
	}
	if lazy.allRan {
		t.Errorf("every contract was loaded, want each read on its own")
	}
	if _, ok := lazy.event("nowhere/no_such_event"); ok {
		t.Errorf("an event without a contract was found")
	}
	for _, bad := range []string{"../evctl", "feed/../../x", "Feed/X"} {
		if _, ok := lazy.event(bad); ok {
			t.Errorf("%q found", bad)
		}
	}
}

// TestGatewayContractsOutOfLayout: an event whose file is not contracts/<domain>/<name>.yaml
// (a checkout that breaks the layout lint enforces) is still found, by loading every contract.
func TestGatewayContractsOutOfLayout(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("evctl.yaml", "version: 1\nteams:\n  growth: {}\n")
	write("contracts/feed/odd_name.yaml", `name: item_clicked
domain: feed
owner: {team: growth}
stage: prod
access: {producers: [growth]}
sinks: {kafka: {key: [item_id]}}
schema:
  fields:
    - {name: item_id, type: string, description: "the item"}
`)
	lazy := newGatewayContracts(configOnly(t, root))
	a, ok := lazy.event("feed/item_clicked")
	if !ok || !slices.Equal(a.producers, []string{"growth"}) || !slices.Equal(a.key, []string{"item_id"}) {
		t.Fatalf("feed/item_clicked: %v %+v", ok, a)
	}
	if !lazy.allRan {
		t.Errorf("found without loading every contract")
	}
}
