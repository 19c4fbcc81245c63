package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	countertopics "github.com/evctl/evctl/pkg/control/sink/counters"
	"github.com/evctl/evctl/pkg/data/count"
	"github.com/evctl/evctl/pkg/data/count/readcache"
	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/counterstore/stores"
	"github.com/evctl/evctl/pkg/data/gateway"
	"github.com/evctl/evctl/pkg/discovery/describe"
)

// How the counter store reaches the gateway and evctl dev (SPEC-dataplane 12: whatever the
// environment names, evctl dev, evctl count and the gateway use it).

// gatewayCounters builds the gateway's counter route: over shared (evctl dev's store) when given,
// else over the environment's counters.store, opened here and closed by the returned func, with
// the changelog-fed read cache in front of it (pkg/data/count/readcache; kafka is the
// environment's connection). An environment without counters.store serves none; an embedded
// store another process holds (a separate `evctl count`) answers 503 with the reason, the
// gateway still starts.
func (a *App) gatewayCounters(ctx context.Context, ws *workspace.Workspace, env string, shared counterstore.Store, kafka []kgo.Opt) (*gateway.Counters, func(), error) {
	// The declared counter names, computed once: the route asks on every read.
	names := map[string]bool{}
	for _, ev := range ws.Events {
		for _, c := range ev.Counters {
			names[c.Name] = true
		}
	}
	known := func(name string) bool { return names[name] }
	if shared != nil {
		return &gateway.Counters{Store: shared, Known: known}, func() {}, nil
	}
	e, err := ws.Project.Env(env)
	if err != nil || e.Counters.Store == "" {
		return nil, func() {}, err
	}
	s, err := a.openCounterStore(ctx, ws.Root(), env, e.Counters)
	if errors.Is(err, counterstore.ErrInUse) {
		fmt.Fprintf(a.IO.ErrOut, "warning: counters: %s is held by another process (an embedded store is one process at a time: run the gateway inside evctl dev, or use redis://); counter reads answer 503\n", counterstore.Redact(e.Counters.Store))
		return &gateway.Counters{Store: unavailable{err}, Known: known}, func() {}, nil
	}
	if err != nil {
		return nil, func() {}, fmt.Errorf("gateway: %w", err)
	}
	changelogs := map[string]string{}
	for name := range names {
		changelogs[name] = count.ChangelogTopic(env, name)
	}
	c, err := readcache.Start(ctx, readcache.Config{Store: s, Kafka: kafka, Changelogs: changelogs, Logger: a.logger()})
	if err != nil {
		// Kafka out of reach at start: every read goes to the store, as it would without a cache.
		fmt.Fprintf(a.IO.ErrOut, "warning: counters: no read cache (%v); counter reads go to the store\n", err)
		return &gateway.Counters{Store: s, Known: known}, func() { s.Close() }, nil
	}
	return &gateway.Counters{Store: c, Known: known}, func() { c.Close(); s.Close() }, nil
}

// unavailable is a counter reader whose store cannot be opened.
type unavailable struct{ err error }

func (u unavailable) Get(context.Context, string, []string) ([]int64, error) { return nil, u.err }

// devCounters runs the count worker of env inside evctl dev, over one store it shares with the
// gateway. It returns nil store when the environment names no counters.store or no hosted event
// declares counters; wait returns after ctx ends and the worker stopped.
func (a *App) devCounters(ctx context.Context, ws *workspace.Workspace, env string) (counterstore.Store, func() error, error) {
	e, err := ws.Project.Env(env)
	if err != nil || e.Counters.Store == "" {
		return nil, func() error { return nil }, err
	}
	if evs, _ := count.Select(ws.Events, e.Hosts, nil, nil); len(evs) == 0 {
		return nil, func() error { return nil }, nil
	}
	store, err := a.openCounterStore(ctx, ws.Root(), env, e.Counters)
	if err != nil {
		return nil, nil, err
	}
	rc, closeAll, err := a.countConfig(ctx, ws, &countOptions{Env: env}, store)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	fmt.Fprintf(a.IO.ErrOut, "count   %d counters, store %s\n", countersIn(rc.Events), counterstore.Redact(e.Counters.Store))
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() {
		if runErr = count.Run(ctx, rc); runErr != nil {
			fmt.Fprintf(a.IO.ErrOut, "count: stopped: %v\n", runErr)
		}
	})
	return store, func() error {
		wg.Wait()
		closeAll()
		store.Close()
		return runErr
	}, nil
}

// describeCounters adds the count workers' progress to a describe report; adm is nil when Kafka
// is not reachable.
func (a *App) describeCounters(ctx context.Context, ws *workspace.Workspace, r *describe.Report, adm *kadm.Client) {
	if len(r.Counters) == 0 {
		return
	}
	e, err := ws.Project.Env(r.Env)
	if err != nil || e.Counters.Store == "" {
		return
	}
	var topics []string
	if ev := ws.Event(r.Event); ev != nil {
		topics = append(topics, ws.Project.TopicName(r.Env, ev))
		for _, c := range ev.Counters {
			if countertopics.Repartitioned(ev, c) {
				topics = append(topics, count.RepartitionTopic(r.Env, c.Name))
			}
		}
	}
	store, err := a.openCounterStore(ctx, ws.Root(), r.Env, e.Counters)
	if err == nil {
		defer store.Close()
	}
	r.AddCounters(ctx, adm, store, err, topics)
}

// renderCounters is the counters part of describe's human view.
func renderCounters(w io.Writer, r *describe.Report) {
	if len(r.Counters) == 0 {
		return
	}
	fmt.Fprintf(w, "\ncounters:\n")
	for _, c := range r.Counters {
		var tiers []string
		for _, t := range c.Windows {
			if t.Below > 0 {
				tiers = append(tiers, fmt.Sprintf("%s below %d", t.Every, t.Below))
			} else {
				tiers = append(tiers, t.Every)
			}
		}
		where := ""
		for _, k := range slices.Sorted(maps.Keys(c.Where)) {
			where += fmt.Sprintf(" where %s=%s", k, c.Where[k])
		}
		fmt.Fprintf(w, "  %s: key %s, sum %s%s; windows %s; milestones %v\n", c.Name, c.Key, c.Sum, where, strings.Join(tiers, ", "), c.Milestones)
	}
	if l := r.CounterLive; l != nil {
		lag := "no commits yet"
		if l.Lag >= 0 {
			lag = fmt.Sprint(l.Lag)
		}
		if len(l.Topics) > 1 { // the repartition topics' share, which the source's lag does not show
			var per []string
			for _, t := range l.Topics {
				v := "no commits"
				if t.Lag >= 0 {
					v = fmt.Sprint(t.Lag)
				}
				per = append(per, t.Topic+" "+v)
			}
			lag += " (" + strings.Join(per, ", ") + ")"
		}
		fmt.Fprintf(w, "  group %s: lag %s; %d counted, %d key writes (%.1f events per write), %d windows open\n",
			l.Group, lag, l.Totals.Counted, l.Totals.KeyWrites, l.Reduction, l.Totals.OpenWindows)
	}
}

// openCounterStore opens an environment's counter store with the password from the variable
// counters.password_env names.
func (a *App) openCounterStore(ctx context.Context, root, env string, c config.CountersEnv) (counterstore.Store, error) {
	password := ""
	if c.PasswordEnv != "" {
		password = a.IO.Getenv(c.PasswordEnv)
	}
	return stores.Open(ctx, c.Store, root, env, password)
}
