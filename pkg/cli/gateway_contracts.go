package cli

import (
	"path"
	"regexp"
	"sync"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// The gateway reads two things of an event from the contracts repository: who may publish it
// (access.producers) and its record key (sinks.kafka.key). Parsing every contract at start was
// most of a 10,000-event gateway's start-up (YAML decoding: seconds of CPU), so the gateway
// opens evctl.yaml alone and reads an event's contract on the event's first request, as its
// registry loads the event's descriptors.

// gatewayWorkspace opens evctl.yaml, and the contracts too only when the environment serves
// counters (the counter route checks names against every contract's counters) or every event
// is preloaded anyway.
func (a *App) gatewayWorkspace(o *gatewayOptions) (*workspace.Workspace, error) {
	p, err := config.Find(a.Globals.Config, a.IO.WorkDir)
	if err != nil {
		return nil, err
	}
	proj, diags, err := config.Load(p)
	if err != nil {
		return nil, err
	}
	if env, err := proj.Env(o.Env); o.Preload || o.counters != nil || (err == nil && env.Counters.Store != "") {
		return a.Workspace()
	}
	return &workspace.Workspace{Project: proj, Diags: diags}, nil
}

// eventAccess is what the gateway needs of one contract.
type eventAccess struct {
	producers []string
	key       []string
}

// gatewayContracts answers for each event from its contract file, read once when first asked
// for. Every published event passed lint, which holds it to contracts/<domain>/<name>.yaml; an
// event found elsewhere (a checkout that breaks the layout) falls back to loading every contract
// once.
type gatewayContracts struct {
	root string

	mu     sync.Mutex
	byID   map[string]eventAccess
	all    map[string]eventAccess // every contract, once the fallback ran
	allRan bool
}

func newGatewayContracts(ws *workspace.Workspace) *gatewayContracts {
	c := &gatewayContracts{root: ws.Root(), byID: map[string]eventAccess{}}
	if len(ws.Events) > 0 {
		c.all, c.allRan = accessOf(ws.Events), true
	}
	return c
}

func accessOf(evs []*contract.Event) map[string]eventAccess {
	out := make(map[string]eventAccess, len(evs))
	for _, ev := range evs {
		if _, dup := out[ev.ID()]; dup {
			continue // as workspace.Event: the first in file order
		}
		a := eventAccess{producers: ev.Access.Producers}
		if ev.Sinks.Kafka != nil {
			a.key = ev.Sinks.Kafka.Key
		}
		out[ev.ID()] = a
	}
	return out
}

// snakeName is an event's domain or name as lint allows it: safe as a path element.
var snakeName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// event returns what the contract of id ("domain/name") says, and whether there is one. The
// file is read outside the lock: requests for other events do not wait on it.
func (c *gatewayContracts) event(id string) (eventAccess, bool) {
	c.mu.Lock()
	if c.allRan {
		a, ok := c.all[id]
		c.mu.Unlock()
		return a, ok
	}
	a, ok := c.byID[id]
	c.mu.Unlock()
	if ok {
		return a, true
	}
	if a, ok := c.readOne(id); ok {
		c.mu.Lock()
		c.byID[id] = a
		c.mu.Unlock()
		return a, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.allRan {
		evs, _ := contract.LoadAll(c.root)
		c.all, c.allRan = accessOf(evs), true
	}
	a, ok = c.all[id]
	return a, ok
}

// readOne reads id's contract where lint puts it.
func (c *gatewayContracts) readOne(id string) (eventAccess, bool) {
	domain, name := path.Split(id)
	domain = path.Clean(domain)
	if !snakeName.MatchString(domain) || !snakeName.MatchString(name) {
		return eventAccess{}, false
	}
	for _, ext := range []string{".yaml", ".yml"} {
		ev, _, _ := contract.LoadFile(c.root, path.Join(contract.Dir, domain, name+ext))
		if ev != nil && ev.ID() == id {
			return accessOf([]*contract.Event{ev})[id], true
		}
	}
	return eventAccess{}, false
}
