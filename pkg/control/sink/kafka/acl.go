package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/control/sink"
)

// KindACL is the kind name of an event's producer/consumer ACLs in plans and state.
const KindACL = "kafka_acl"

// ACLSpec is the wanted (Desired.Spec) access to one topic; the Desired.Name is the topic.
// Producers get WRITE and DESCRIBE on the topic (literal); consumers get READ and DESCRIBE on the
// topic (literal) and READ on consumer groups prefixed GroupPrefix(team). Principals are
// "User:"+UserName(team).
type ACLSpec struct {
	Topic     string   `json:"topic"`
	Producers []string `json:"producers,omitempty"` // team names
	Consumers []string `json:"consumers,omitempty"` // team names
}

// NewACLSpec returns the spec for topic with producers and consumers sorted and de-duplicated,
// so equal access hashes equally.
func NewACLSpec(topic string, producers, consumers []string) ACLSpec {
	norm := func(ts []string) []string {
		ts = slices.Clone(ts)
		slices.Sort(ts)
		return slices.Compact(ts)
	}
	return ACLSpec{Topic: topic, Producers: norm(producers), Consumers: norm(consumers)}
}

// Principal is the ACL principal of a team.
func Principal(team string) string { return "User:" + UserName(team) }

// ACLBinding is one ACL entry. The live shape of a kafka_acl resource (Observed.Spec) is a
// sorted []ACLBinding: the entries on the topic (literal) for managed principals, and the group
// entries the spec's consumers need that exist.
type ACLBinding struct {
	Principal  string
	Host       string
	Type       kmsg.ACLResourceType
	Resource   string
	Pattern    kmsg.ACLResourcePatternType
	Operation  kmsg.ACLOperation
	Permission kmsg.ACLPermissionType
}

// Path is the binding's diff path: "acl.User:growth.WRITE" for a topic entry,
// "acl.User:analytics.group:analytics.*.READ" for a prefixed group entry.
func (b ACLBinding) Path() string {
	res := ""
	if b.Type != kmsg.ACLResourceTypeTopic {
		res = strings.ToLower(b.Type.String()) + ":" + b.Resource
		if b.Pattern == kmsg.ACLResourcePatternTypePrefixed {
			res += "*"
		}
		res += "."
	}
	return "acl." + b.Principal + "." + res + b.Operation.String()
}

// value is what a diff shows for a live binding: "allow", "deny", plus " from <host>" when the
// entry is limited to one host.
func (b ACLBinding) value() string {
	v := strings.ToLower(b.Permission.String())
	if b.Host != "*" {
		v += " from " + b.Host
	}
	return v
}

// Bindings returns the entries s wants, sorted.
func (s ACLSpec) Bindings() []ACLBinding {
	var out []ACLBinding
	add := func(team string, typ kmsg.ACLResourceType, name string, pat kmsg.ACLResourcePatternType, op kmsg.ACLOperation) {
		out = append(out, ACLBinding{Principal: Principal(team), Host: "*", Type: typ, Resource: name,
			Pattern: pat, Operation: op, Permission: kmsg.ACLPermissionTypeAllow})
	}
	for _, t := range s.Producers {
		add(t, kmsg.ACLResourceTypeTopic, s.Topic, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationWrite)
		add(t, kmsg.ACLResourceTypeTopic, s.Topic, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationDescribe)
	}
	for _, t := range s.Consumers {
		add(t, kmsg.ACLResourceTypeTopic, s.Topic, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationRead)
		add(t, kmsg.ACLResourceTypeTopic, s.Topic, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationDescribe)
		add(t, kmsg.ACLResourceTypeGroup, GroupPrefix(t), kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLOperationRead)
	}
	sortBindings(out)
	return slices.Compact(out)
}

func sortBindings(bs []ACLBinding) {
	// Each key is made once, not once per comparison: made per comparison, the keys were most
	// of a plan's CPU with 10,000 topics.
	keyed := make([]struct {
		k string
		b ACLBinding
	}, len(bs))
	for i, b := range bs {
		keyed[i].k, keyed[i].b = b.key(), b
	}
	slices.SortStableFunc(keyed, func(x, y struct {
		k string
		b ACLBinding
	}) int {
		return strings.Compare(x.k, y.k)
	})
	for i := range keyed {
		bs[i] = keyed[i].b
	}
}

// key orders bindings by diff path first, so diffs read in a stable, readable order.
func (b ACLBinding) key() string {
	return fmt.Sprintf("%s|%s|%s|%d|%d", b.Path(), b.Host, b.Permission, b.Type, b.Pattern)
}

// ACLSink is the kafka_acl sink. It implements sink.Sink and sink.BatchApplier.
//
// It only ever touches entries of managed principals: the teams given to NewACLSink plus every
// team named in a wanted spec. Group entries are shared by every topic a team consumes, so a
// topic's diff adds a missing one but never removes one; removing a consumer takes away its
// topic READ, which is what grants access.
type ACLSink struct {
	ACLDef
	c     *Client
	teams []string
}

var (
	_ sink.Sink         = (*ACLSink)(nil)
	_ sink.BatchApplier = (*ACLSink)(nil)
)

// NewACLSink returns the ACL sink over c. teams are the teams evctl manages (evctl.yaml's
// teams), whose entries on a managed topic the sink may remove when no spec wants them.
func NewACLSink(c *Client, teams ...string) *ACLSink {
	return &ACLSink{c: c, teams: slices.Clone(teams)}
}

// Observe lists the cluster's ACLs with one DescribeACLs request and returns, per wanted topic,
// its entries for managed principals. The error is for the request failing (including the
// client lacking DESCRIBE on the cluster); ACL reads do not fail per resource.
func (s *ACLSink) Observe(ctx context.Context, want []sink.Desired) ([]sink.Observed, error) {
	if len(want) == 0 {
		return nil, nil
	}
	managed := s.managed(want)
	resp, err := s.c.describeACLs(ctx, kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, nil)
	if err != nil {
		return nil, fmt.Errorf("kafka: describe acls: %w", err)
	}
	type res struct {
		typ  kmsg.ACLResourceType
		name string
		pat  kmsg.ACLResourcePatternType
	}
	live := map[res][]ACLBinding{}
	for _, r := range resp.Resources {
		k := res{r.ResourceType, r.ResourceName, r.ResourcePatternType}
		for _, a := range r.ACLs {
			if !managed[a.Principal] {
				continue
			}
			live[k] = append(live[k], ACLBinding{Principal: a.Principal, Host: a.Host, Type: r.ResourceType,
				Resource: r.ResourceName, Pattern: r.ResourcePatternType, Operation: a.Operation, Permission: a.PermissionType})
		}
	}

	var out []sink.Observed
	seen := map[string]bool{}
	for _, d := range want {
		if seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		bs := slices.Clone(live[res{kmsg.ACLResourceTypeTopic, d.Name, kmsg.ACLResourcePatternTypeLiteral}])
		if spec, err := aclSpec(d.Spec); err == nil && !d.Absent {
			for _, w := range spec.Bindings() {
				if w.Type != kmsg.ACLResourceTypeGroup {
					continue
				}
				if slices.Contains(live[res{w.Type, w.Resource, w.Pattern}], w) {
					bs = append(bs, w)
				}
			}
		}
		sortBindings(bs)
		bs = slices.Compact(bs)
		out = append(out, sink.Observed{Kind: KindACL, Name: d.Name, Exists: len(bs) > 0, Spec: bs})
	}
	return out, nil
}

// managed is the set of principals whose entries the sink reads and may change.
func (s *ACLSink) managed(want []sink.Desired) map[string]bool {
	m := map[string]bool{}
	for _, t := range s.teams {
		m[Principal(t)] = true
	}
	for _, d := range want {
		if spec, err := aclSpec(d.Spec); err == nil {
			for _, t := range slices.Concat(spec.Producers, spec.Consumers) {
				m[Principal(t)] = true
			}
		}
	}
	return m
}

// Diff is pure. Wanted entries that are missing are added ("acl.<principal>.<OP>" from "" to
// "allow"); topic entries of managed principals that no spec wants are removed (from their value
// to ""). No live entry → create, some → update, equal → noop; Absent → delete every topic entry
// of managed principals (noop when there are none). The error is for a spec of the wrong type or
// a wanted topic with no observation.
func (s *ACLSink) Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	// Absent and present topics diff alike: an Absent topic wants no entries.
	diff := func(ch *sink.Change) error {
		d, o := ch.Desired, ch.Observed
		var wantB []ACLBinding
		if !d.Absent {
			spec, err := aclSpec(d.Spec)
			if err != nil {
				return err
			}
			if spec.Topic != "" && spec.Topic != d.Name {
				return fmt.Errorf("spec is for topic %q", spec.Topic)
			}
			spec.Topic = d.Name
			wantB = spec.Bindings()
		}
		haveB, _ := o.Spec.([]ACLBinding)
		add, remove := aclDelta(wantB, haveB)
		for _, b := range add {
			ch.Diff = append(ch.Diff, sink.DiffEntry{Path: b.Path(), To: "allow"})
		}
		for _, b := range remove {
			ch.Diff = append(ch.Diff, sink.DiffEntry{Path: b.Path(), From: b.value()})
		}
		slices.SortStableFunc(ch.Diff, func(a, b sink.DiffEntry) int { return strings.Compare(a.Path, b.Path) })
		switch {
		case len(ch.Diff) == 0:
		case d.Absent:
			ch.Action, ch.Reason = sink.Delete, "removed from the repository"
		case len(haveB) == 0:
			ch.Action = sink.Create
		default:
			ch.Action = sink.Update
		}
		return nil
	}
	return sink.DiffEach(sink.Differ{Kind: KindACL, What: "kafka: diff acls for topic", Absent: diff, Present: diff}, want, have)
}

// aclDelta returns the wanted entries missing from have, and the topic entries in have that are
// not wanted (group entries are never removed: other topics share them).
func aclDelta(want, have []ACLBinding) (add, remove []ACLBinding) {
	for _, w := range want {
		if !slices.Contains(have, w) {
			add = append(add, w)
		}
	}
	for _, h := range have {
		if h.Type == kmsg.ACLResourceTypeTopic && !slices.Contains(want, h) {
			remove = append(remove, h)
		}
	}
	return add, remove
}

func aclSpec(v any) (ACLSpec, error) {
	switch s := v.(type) {
	case ACLSpec:
		return s, nil
	case *ACLSpec:
		if s != nil {
			return *s, nil
		}
	}
	return ACLSpec{}, fmt.Errorf("spec is %T, want kafka.ACLSpec", v)
}
