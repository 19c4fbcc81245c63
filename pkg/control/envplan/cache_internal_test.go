package envplan

import (
	"testing"

	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// TestGlobalKey: what replans every event (evctl.yaml, consumers/, a .proto under contracts/)
// changes the key; an event's own YAML (its entry's key) and a stray file do not.
func TestGlobalKey(t *testing.T) {
	events := map[string]bool{"contracts/feed/clicked.yaml": true}
	contracts := func(extra map[string]string) map[string]workspace.FileStat {
		m := map[string]workspace.FileStat{"contracts/feed/clicked.yaml": {Sum: "a"}, "contracts/feed/shared.proto": {Sum: "p"}}
		for k, v := range extra {
			m[k] = workspace.FileStat{Sum: v}
		}
		return m
	}
	cons := map[string]workspace.FileStat{"consumers/crm.yaml": {Sum: "c"}}
	base := globalKey("b", "local", []byte("cfg"), cons, contracts(nil), events)
	same := map[string]map[string]string{
		"event YAML edited":   {"contracts/feed/clicked.yaml": "changed"},
		"editor backup":       {"contracts/feed/clicked.yaml.orig": "x"},
		"README in contracts": {"contracts/README.md": "x"},
	}
	for name, extra := range same {
		if got := globalKey("b", "local", []byte("cfg"), cons, contracts(extra), events); got != base {
			t.Errorf("%s changes the global key", name)
		}
	}
	differ := map[string]string{
		"proto edited": globalKey("b", "local", []byte("cfg"), cons, contracts(map[string]string{"contracts/feed/shared.proto": "q"}), events),
		"proto added":  globalKey("b", "local", []byte("cfg"), cons, contracts(map[string]string{"contracts/x/new.proto": "n"}), events),
		"evctl.yaml":   globalKey("b", "local", []byte("cfg2"), cons, contracts(nil), events),
		"consumer":     globalKey("b", "local", []byte("cfg"), map[string]workspace.FileStat{"consumers/crm.yaml": {Sum: "d"}}, contracts(nil), events),
		"environment":  globalKey("b", "staging", []byte("cfg"), cons, contracts(nil), events),
		"evctl build":  globalKey("b2", "local", []byte("cfg"), cons, contracts(nil), events),
	}
	for name, got := range differ {
		if got == base {
			t.Errorf("%s does not change the global key", name)
		}
	}
}
