package consumers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/dlq"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Diff is pure. A topic diffs as the dlq sink diffs it. A definition diffs its published
// sha256 ("definition.sha256") and its group's READ entries ("acl.<principal>.group:<group>.READ"):
// missing ones added, those of other managed principals removed; a removed consumer
// (Absent) deletes both.
func (s *Sink) Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	diff := func(ch *sink.Change) error {
		if !isDef(ch.Name) {
			tc, err := s.topicChange(*ch)
			if err != nil {
				return err
			}
			ch.Action, ch.Reason, ch.Diff = tc.Action, tc.Reason, append(ch.Diff, tc.Diff...)
			return nil
		}
		add, remove, from, to, err := s.defDelta(*ch)
		if err != nil {
			return err
		}
		if from != to {
			ch.Diff = append(ch.Diff, sink.DiffEntry{Path: "definition.sha256", From: from, To: to})
			ch.Diff = append(ch.Diff, defFieldDiff(*ch)...)
		}
		group := s.groupOf(*ch.Desired)
		for _, p := range add {
			ch.Diff = append(ch.Diff, sink.DiffEntry{Path: aclPath(p, group), To: "allow"})
		}
		for _, p := range remove {
			ch.Diff = append(ch.Diff, sink.DiffEntry{Path: aclPath(p, group), From: "allow"})
		}
		switch {
		case len(ch.Diff) == 0:
		case ch.Desired.Absent:
			ch.Action, ch.Reason = sink.Delete, "removed from the repository"
		case ch.Observed == nil || !ch.Observed.Exists:
			ch.Action = sink.Create
		default:
			ch.Action = sink.Update
		}
		return nil
	}
	return sink.DiffEach(sink.Differ{Kind: Kind, What: "consumers: diff", Absent: diff, Present: diff}, want, have)
}

func aclPath(principal, group string) string {
	return "acl." + principal + ".group:" + group + ".READ"
}

// live is c's observation (the zero Live when none).
func live(c sink.Change) (Live, error) {
	if c.Observed == nil || c.Observed.Spec == nil {
		return Live{}, nil
	}
	l, ok := c.Observed.Spec.(Live)
	if !ok {
		return Live{}, fmt.Errorf("observed spec is %T, want consumers.Live", c.Observed.Spec)
	}
	return l, nil
}

// defDelta is what a definition change does: group READ entries to add and remove, and the
// published sha256 from and to ("" for none).
func (s *Sink) defDelta(c sink.Change) (add, remove []string, from, to string, err error) {
	if c.Desired == nil {
		return nil, nil, "", "", errors.New("change carries no desired spec")
	}
	spec, err := definition(*c.Desired)
	if err != nil {
		return nil, nil, "", "", err
	}
	l, err := live(c)
	if err != nil {
		return nil, nil, "", "", err
	}
	if l.Entry != nil {
		from = l.Entry.SHA256
	}
	var wantP string
	if spec != nil {
		to, wantP = spec.SHA256, kafka.Principal(spec.Team)
		if !slices.Contains(l.Readers, wantP) {
			add = append(add, wantP)
		}
	}
	for _, p := range l.Readers {
		if p != wantP {
			remove = append(remove, p)
		}
	}
	return add, remove, from, to, nil
}

// topicChange is c as the dlq sink's change, diffed by it.
func (s *Sink) topicChange(c sink.Change) (sink.Change, error) {
	if c.Desired == nil {
		return sink.Change{}, errors.New("change carries no desired spec")
	}
	in, err := asTopic(*c.Desired)
	if err != nil {
		return sink.Change{}, err
	}
	obs := sink.Observed{Kind: dlq.Kind, Name: c.Name}
	l, err := live(c)
	if err != nil {
		return sink.Change{}, err
	}
	if l.Topic != nil {
		obs = *l.Topic
	}
	cs, err := s.topics.Diff([]sink.Desired{in}, []sink.Observed{obs})
	if err != nil {
		return sink.Change{}, err
	}
	return cs[0], nil
}

// Apply executes one change; it is ApplyBatch of one.
func (s *Sink) Apply(ctx context.Context, c sink.Change) error {
	return s.ApplyBatch(ctx, []sink.Change{c})[0]
}

// ApplyBatch unpublishes removed definitions first (a route worker stops delivering before its
// topics go), then applies the topics in one batch of the dlq sink, then publishes the other
// definitions, each only when no topic of the same consumer failed in this batch. Every step
// is idempotent. A noop succeeds; replace, blocked and skipped fail.
func (s *Sink) ApplyBatch(ctx context.Context, cs []sink.Change) []error {
	errs := make([]error, len(cs))
	var topics []sink.Change
	var topicIdx, defs, dels []int
	for i, c := range cs {
		switch c.Action {
		case sink.Noop:
			continue
		case sink.Create, sink.Update, sink.Delete:
		default:
			errs[i] = fmt.Errorf("consumers: %s: cannot apply action %q", c.Name, c.Action)
			continue
		}
		switch {
		case isDef(c.Name) && c.Action == sink.Delete:
			dels = append(dels, i)
		case isDef(c.Name):
			defs = append(defs, i)
		default:
			tc, err := s.topicChange(c)
			if err != nil {
				errs[i] = fmt.Errorf("consumers: %s topic %q: %w", c.Action, c.Name, err)
				continue
			}
			if tc.Action != sink.Noop {
				topics, topicIdx = append(topics, tc), append(topicIdx, i)
			}
		}
	}
	s.applyDefs(ctx, cs, dels, errs)
	if len(topics) > 0 {
		for k, err := range s.topics.ApplyBatch(ctx, topics) {
			if err != nil {
				errs[topicIdx[k]] = fmt.Errorf("consumers: %w", err)
			}
		}
	}
	failed := map[string]string{} // consumer event → its failed topic
	for _, i := range topicIdx {
		if errs[i] != nil {
			failed[cs[i].Event] = cs[i].Name
		}
	}
	var run []int
	for _, i := range defs {
		if t, ok := failed[cs[i].Event]; ok {
			errs[i] = fmt.Errorf("consumers: %s not published: its topic %s failed", cs[i].Name, t)
			continue
		}
		run = append(run, i)
	}
	s.applyDefs(ctx, cs, run, errs)
	return errs
}

// applyDefs applies the definition changes cs[idx]: the group entries, then each definition's
// blob, then one compare-and-swap of consumers/index.json for all of them.
func (s *Sink) applyDefs(ctx context.Context, cs []sink.Change, idx []int, errs []error) {
	if len(idx) == 0 {
		return
	}
	if s.store == nil {
		for _, i := range idx {
			errs[i] = errors.New("consumers: the descriptor store is not available for the consumer definitions")
		}
		return
	}
	entries := map[string]descstore.ConsumerEntry{}
	var removed []string
	var ok []int
	for _, i := range idx {
		c := cs[i]
		name := strings.TrimPrefix(c.Name, defPrefix)
		if c.Desired == nil {
			errs[i] = fmt.Errorf("consumers: %s %s: change carries no desired spec", c.Action, c.Name)
			continue
		}
		add, remove, _, _, err := s.defDelta(c)
		if err == nil {
			err = s.groupACLs(ctx, s.groupOf(*c.Desired), add, remove)
		}
		if err == nil && !c.Desired.Absent {
			var spec *DefinitionSpec
			if spec, err = definition(*c.Desired); err == nil {
				var e descstore.ConsumerEntry
				if e, err = descstore.WriteConsumerDef(ctx, s.store, spec.Def); err == nil {
					entries[name] = e
				}
			}
		}
		if c.Desired.Absent {
			removed = append(removed, name)
		}
		if err != nil {
			errs[i] = fmt.Errorf("consumers: %s %s: %w", c.Action, c.Name, err)
			delete(entries, name)
			removed = slices.DeleteFunc(removed, func(n string) bool { return n == name })
			continue
		}
		ok = append(ok, i)
	}
	if len(entries)+len(removed) == 0 {
		return
	}
	err := descstore.UpdateConsumerIndex(ctx, s.store, func(ix *descstore.ConsumerIndex) {
		for _, n := range removed {
			delete(ix.Consumers, n)
		}
		for n, e := range entries {
			ix.Consumers[n] = e
		}
	})
	if err != nil {
		for _, i := range ok {
			errs[i] = fmt.Errorf("consumers: %s %s: %w", cs[i].Action, cs[i].Name, err)
		}
	}
}

// groupACLs grants and revokes literal READ on group for principals.
func (s *Sink) groupACLs(ctx context.Context, group string, add, remove []string) error {
	if len(add) > 0 {
		b := kadm.NewACLs().Allow(add...).AllowHosts().Groups(group).Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
		res, err := s.c.Admin().CreateACLs(ctx, b)
		if err != nil {
			return fmt.Errorf("grant READ on group %s: %w", group, err)
		}
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("grant READ on group %s to %s: %w", group, r.Principal, r.Err)
			}
		}
	}
	if len(remove) > 0 {
		b := kadm.NewACLs().Allow(remove...).AllowHosts().Groups(group).Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
		res, err := s.c.Admin().DeleteACLs(ctx, b)
		if err != nil {
			return fmt.Errorf("revoke READ on group %s: %w", group, err)
		}
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("revoke READ on group %s: %w", group, r.Err)
			}
		}
	}
	return nil
}

// ListManaged implements sink.Lister: the environment's live consumer dead-letter topics and
// the published definitions (a deliver.kafka topic has no evctl naming to list it by).
func (s *Sink) ListManaged(ctx context.Context, t *sink.Target) ([]string, error) {
	names, err := s.list.List(ctx, kafka.ConsumersPrefix(t.Env))
	if err != nil {
		return nil, fmt.Errorf("consumers: %w", err)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return !kafka.IsConsumersTopic(t.Env, n) })
	if s.store != nil {
		idx, _, err := descstore.ReadConsumerIndex(ctx, s.store)
		if err != nil {
			return nil, fmt.Errorf("consumers: %w", err)
		}
		for _, n := range idx.Names() {
			names = append(names, DefName(n))
		}
	}
	return names, nil
}
