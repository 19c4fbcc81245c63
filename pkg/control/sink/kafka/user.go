package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/control/sink"
)

// KindUser is the kind name of per-team Kafka users in plans and state.
const KindUser = "kafka_user"

// ScramIterations is the PBKDF2 iteration count of the credentials evctl sets: Kafka's minimum
// and default. More would buy nothing for 256-bit random passwords, and kfake (evctl dev, tests)
// always advertises 4096 in its SCRAM exchange, so a credential stored with another count cannot
// log in there.
const ScramIterations = 4096

// UserName is the Kafka user (and, as "User:"+UserName, the ACL principal) of a team: the team
// name itself, so ACLs and broker logs read as the team.
func UserName(team string) string { return team }

// GroupPrefix is the consumer-group prefix a team may use: "<team>.", so team analytics consumes
// with groups such as "analytics.dashboards".
func GroupPrefix(team string) string { return team + "." }

// UserSpec is the wanted (Desired.Spec) shape of a team's user. It holds no password: specs are
// hashed and may be printed; the password comes from Credentials at apply time.
type UserSpec struct {
	Team      string `json:"team"`
	User      string `json:"user"`
	Mechanism string `json:"mechanism"` // SCRAM-SHA-512 or SCRAM-SHA-256
	// Rotate asks for a new password for an existing user (an update). It is the only way a
	// password changes: SCRAM credentials cannot be read back to compare. The caller sets it for
	// one run (a rotate flag), never in the repository, or every plan would rotate again.
	Rotate bool `json:"rotate,omitempty"`
}

// NewUserSpec returns the spec of team's SCRAM-SHA-512 user.
func NewUserSpec(team string) UserSpec {
	return UserSpec{Team: team, User: UserName(team), Mechanism: MechanismScramSHA512}
}

// UserState is the Observed.Spec of a live user.
type UserState struct {
	User       string   `json:"user"`
	Mechanisms []string `json:"mechanisms"` // the SCRAM mechanisms it has a credential for
	// HasSecret reports whether the Credentials store holds this team's password; when it does
	// not, nobody evctl serves can log in as the user until it is rotated.
	HasSecret bool `json:"has_secret"`
	// Rotating reports a password staged by Credentials.Rotate and not yet set on the broker:
	// the user is updated with it, then the store promotes it.
	Rotating bool `json:"rotating,omitempty"`
	// ACLTopics are the topics the user holds literal ACL entries on, read only for a user the
	// repository no longer wants (a deletion candidate): the planner keeps a user that another
	// repository's topics still grant access to.
	ACLTopics []string `json:"acl_topics,omitempty"`
}

// UserSink is the kafka_user sink. It implements sink.Sink and sink.BatchApplier.
type UserSink struct {
	UserDef
	c     *Client
	creds Credentials
}

var (
	_ sink.Sink         = (*UserSink)(nil)
	_ sink.BatchApplier = (*UserSink)(nil)
)

// NewUserSink returns the user sink over c, taking passwords from creds.
func NewUserSink(c *Client, creds Credentials) *UserSink { return &UserSink{c: c, creds: creds} }

// Observe reads every wanted user with one DescribeUserSCRAMCredentials request. The error is for
// the request failing as a whole; a user that could not be read has Observed.Err set.
func (s *UserSink) Observe(ctx context.Context, want []sink.Desired) ([]sink.Observed, error) {
	var names []string
	teams := map[string]string{}
	absent := map[string]bool{}
	for _, d := range want {
		if d.Absent {
			absent[d.Name] = true
		}
		if _, seen := teams[d.Name]; seen {
			continue
		}
		names = append(names, d.Name)
		teams[d.Name] = d.Name
		if spec, err := userSpec(d.Spec); err == nil && spec.Team != "" {
			teams[d.Name] = spec.Team
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	described, err := s.c.adm.DescribeUserSCRAMs(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("kafka: describe users: %w", err)
	}
	out := make([]sink.Observed, len(names))
	for i, n := range names {
		out[i] = sink.Observed{Kind: KindUser, Name: n}
		d, ok := described[n]
		switch {
		case !ok || errors.Is(d.Err, kerr.ResourceNotFound):
			continue
		case d.Err != nil:
			out[i].Err = fmt.Errorf("kafka: describe user %q: %w", n, withMessage(d.Err, d.ErrMessage))
			continue
		}
		st := UserState{User: n}
		for _, ci := range d.CredInfos {
			st.Mechanisms = append(st.Mechanisms, ci.Mechanism.String())
		}
		slices.Sort(st.Mechanisms)
		if st.HasSecret, err = s.creds.Exists(teams[n]); err != nil {
			out[i].Err = err
			continue
		}
		if _, st.Rotating, err = s.creds.Pending(teams[n]); err != nil {
			out[i].Err = err
			continue
		}
		if absent[n] {
			if st.ACLTopics, err = s.aclTopics(ctx, n); err != nil {
				out[i].Err = err
				continue
			}
		}
		out[i].Exists, out[i].Spec = true, st
	}
	return out, nil
}

// aclTopics lists the topics user holds literal ACL entries on, with one DescribeACLs request
// filtered by its principal.
func (s *UserSink) aclTopics(ctx context.Context, user string) ([]string, error) {
	resp, err := s.c.describeACLs(ctx, kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, kmsg.StringPtr("User:"+user))
	if err != nil {
		return nil, fmt.Errorf("kafka: describe acls of user %q: %w", user, err)
	}
	var topics []string
	for _, r := range resp.Resources {
		if len(r.ACLs) > 0 {
			topics = append(topics, r.ResourceName)
		}
	}
	slices.Sort(topics)
	return slices.Compact(topics), nil
}

// Diff is pure. Missing → create; live without the wanted mechanism, or Rotate set → update;
// live → noop (with a reason when the password is not in the credential store); Absent and live
// → delete; Absent and gone → noop. A user whose observation failed is blocked with that error.
// Diff entries never carry a password: the path is "scram.<mechanism>", values "" / "set" /
// "rotated".
func (s *UserSink) Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	return sink.DiffEach(sink.Differ{
		Kind: KindUser, What: "kafka: diff user", DeleteReason: "removed from the repository",
		Present: func(ch *sink.Change) error {
			o := ch.Observed
			spec, err := userSpec(ch.Desired.Spec)
			if err != nil {
				return err
			}
			mech := spec.mechanism()
			path := "scram." + mech
			st, _ := o.Spec.(UserState)
			switch {
			case !o.Exists:
				ch.Action, ch.Diff = sink.Create, []sink.DiffEntry{{Path: path, To: "set"}}
			case !slices.Contains(st.Mechanisms, mech):
				ch.Action, ch.Diff = sink.Update, []sink.DiffEntry{{Path: path, To: "set"}}
			case spec.Rotate, st.Rotating:
				ch.Action, ch.Diff = sink.Update, []sink.DiffEntry{{Path: path, From: "set", To: "rotated"}}
			case !st.HasSecret:
				ch.Reason = fmt.Sprintf("password for team %q is not in the credential store; set $%s or rotate", spec.Team, PasswordEnv(spec.Team))
			}
			return nil
		},
	}, want, have)
}

// Apply executes one change; it is ApplyBatch of one.
func (s *UserSink) Apply(ctx context.Context, c sink.Change) error {
	return s.ApplyBatch(ctx, []sink.Change{c})[0]
}

// ApplyBatch sets and deletes credentials with one AlterUserSCRAMCredentials request, returning
// one error (or nil) per change, in order. Create and update upsert the team's password from
// Credentials (update with Rotate rotates it first); delete removes every observed mechanism and
// succeeds when the user is already gone. Errors are prefixed "kafka: <op> user %q", wrap the
// broker's kerr.Error, and never contain a password.
func (s *UserSink) ApplyBatch(ctx context.Context, cs []sink.Change) []error {
	errs := make([]error, len(cs))
	var (
		upserts []kadm.UpsertSCRAM
		dels    []kadm.DeleteSCRAM
		owner   = map[string]int{}
		ops     = map[string]string{}
		promote = map[string]string{} // user → team whose staged password this batch sets
	)
	for i, c := range cs {
		op := map[sink.Action]string{sink.Create: "create", sink.Update: "update", sink.Delete: "delete"}[c.Action]
		switch {
		case c.Action == sink.Noop:
			continue
		case op == "":
			errs[i] = fmt.Errorf("kafka: user %q: cannot apply action %q", c.Name, c.Action)
			continue
		}
		if _, dup := owner[c.Name]; dup {
			errs[i] = fmt.Errorf("kafka: %s user %q: twice in one batch", op, c.Name)
			continue
		}
		if c.Action == sink.Delete {
			for _, m := range observedMechanisms(c) {
				dels = append(dels, kadm.DeleteSCRAM{User: c.Name, Mechanism: m})
			}
			if len(dels) == 0 || dels[len(dels)-1].User != c.Name {
				continue // nothing live to delete
			}
			owner[c.Name], ops[c.Name] = i, op
			continue
		}
		u, team, err := s.upsert(c)
		if err != nil {
			errs[i] = fmt.Errorf("kafka: %s user %q: %w", op, c.Name, err)
			continue
		}
		if team != "" {
			promote[c.Name] = team
		}
		upserts = append(upserts, u)
		owner[c.Name], ops[c.Name] = i, op
	}
	if len(owner) == 0 {
		return errs
	}
	res, err := s.c.adm.AlterUserSCRAMs(ctx, dels, upserts)
	for u, i := range owner {
		switch r, ok := res[u]; {
		case err != nil:
			errs[i] = fmt.Errorf("kafka: %s user %q: %w", ops[u], u, err)
		case !ok:
			errs[i] = fmt.Errorf("kafka: %s user %q: no answer from the broker", ops[u], u)
		case r.Err != nil && !(ops[u] == "delete" && errors.Is(r.Err, kerr.ResourceNotFound)):
			errs[i] = fmt.Errorf("kafka: %s user %q: %w", ops[u], u, withMessage(r.Err, r.ErrMessage))
		case promote[u] != "":
			// The broker has the staged password: make it the team's. A crash before this line
			// leaves it staged, and the next plan updates the user with it again.
			if perr := s.creds.Promote(promote[u]); perr != nil {
				errs[i] = fmt.Errorf("kafka: %s user %q: %w", ops[u], u, perr)
			}
		}
	}
	return errs
}

// upsert builds the credential of a create or update change. A password staged by
// Credentials.Rotate wins (spec.Rotate stages one first); rotating then names the team whose
// staged password to promote once the broker has it.
func (s *UserSink) upsert(c sink.Change) (u kadm.UpsertSCRAM, rotating string, err error) {
	if c.Desired == nil {
		return kadm.UpsertSCRAM{}, "", errNoDesired
	}
	spec, err := userSpec(c.Desired.Spec)
	if err != nil {
		return kadm.UpsertSCRAM{}, "", err
	}
	var m kadm.ScramMechanism
	switch spec.mechanism() {
	case MechanismScramSHA512:
		m = kadm.ScramSha512
	case MechanismScramSHA256:
		m = kadm.ScramSha256
	default:
		return kadm.UpsertSCRAM{}, "", fmt.Errorf("unsupported mechanism %q", spec.Mechanism)
	}
	if c.Action == sink.Update && spec.Rotate {
		if _, err := s.creds.Rotate(spec.Team); err != nil {
			return kadm.UpsertSCRAM{}, "", err
		}
	}
	pw, staged, err := s.creds.Pending(spec.Team)
	if err != nil {
		return kadm.UpsertSCRAM{}, "", err
	}
	if staged {
		rotating = spec.Team
	} else if pw, _, err = s.creds.Password(spec.Team); err != nil {
		return kadm.UpsertSCRAM{}, "", err
	}
	return kadm.UpsertSCRAM{User: c.Name, Mechanism: m, Iterations: ScramIterations, Password: pw}, rotating, nil
}

func observedMechanisms(c sink.Change) []kadm.ScramMechanism {
	if c.Observed == nil {
		return []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512}
	}
	st, _ := c.Observed.Spec.(UserState)
	var ms []kadm.ScramMechanism
	for _, m := range st.Mechanisms {
		switch m {
		case MechanismScramSHA256:
			ms = append(ms, kadm.ScramSha256)
		case MechanismScramSHA512:
			ms = append(ms, kadm.ScramSha512)
		}
	}
	return ms
}

func (s UserSpec) mechanism() string {
	if s.Mechanism == "" {
		return MechanismScramSHA512
	}
	return s.Mechanism
}

func userSpec(v any) (UserSpec, error) {
	switch s := v.(type) {
	case UserSpec:
		return s, nil
	case *UserSpec:
		if s != nil {
			return *s, nil
		}
	}
	return UserSpec{}, fmt.Errorf("spec is %T, want kafka.UserSpec", v)
}

// withMessage appends a broker's error message to err when it adds something.
func withMessage(err error, msg string) error {
	if msg == "" || err == nil {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}
