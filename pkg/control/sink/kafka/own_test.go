package kafka

import (
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink"
)

// The ownership rules of the Kafka kinds (sink.Owner), one case each; end to end against kfake
// they run in pkg/control/apply and pkg/cli.

func TestUserOwnKeepsSharedUsers(t *testing.T) {
	ours := map[string]bool{"ours.a": true, "ours.b": true}
	owns := func(kind, name string) bool { return kind == KindTopic && ours[name] }
	user := func(name string, action sink.Action, topics ...string) sink.Change {
		return sink.Change{Kind: KindUser, Name: name, Action: action,
			Observed: &sink.Observed{Exists: true, Spec: UserState{User: name, ACLTopics: topics}}}
	}
	cs := []sink.Change{
		user("only-ours", sink.Delete, "ours.a", "ours.b"),
		user("shared", sink.Delete, "ours.a", "theirs.1", "theirs.2", "theirs.3", "theirs.4"),
		user("no-acls", sink.Delete),
		user("kept", sink.Noop, "theirs.1"),
	}
	want := []sink.Action{sink.Delete, sink.Skipped, sink.Delete, sink.Noop}
	for i := range cs {
		UserDef{}.Own(&cs[i], sink.Ownership{Recorded: true, Owns: owns})
		if cs[i].Action != want[i] {
			t.Errorf("%s: %s, want %s", cs[i].Name, cs[i].Action, want[i])
		}
	}
	if r := cs[1].Reason; !strings.Contains(r, "theirs.1, theirs.2, theirs.3 and 1 more") || strings.Contains(r, "ours.a") {
		t.Errorf("reason %q: want the first three foreign topics and a count", r)
	}
}

func TestOwnership(t *testing.T) {
	none := func(string, string) bool { return false }
	topicOurs := func(kind, name string) bool { return kind == KindTopic && name == "t" }
	live := func() *sink.Observed { return &sink.Observed{Exists: true} }
	for _, tc := range []struct {
		name     string
		s        sink.Sink
		c        sink.Change
		recorded bool
		owns     func(string, string) bool
		want     sink.Action
	}{
		{"someone else's topic is never updated", &TopicSink{}, sink.Change{Kind: KindTopic, Action: sink.Update, Observed: live()}, false, none, sink.Blocked},
		{"nor deleted", &TopicSink{}, sink.Change{Kind: KindTopic, Action: sink.Delete, Observed: live()}, false, none, sink.Blocked},
		{"nor recorded as a noop", &TopicSink{}, sink.Change{Kind: KindTopic, Action: sink.Noop, Observed: live()}, false, none, sink.Blocked},
		{"our own is", &TopicSink{}, sink.Change{Kind: KindTopic, Action: sink.Update, Observed: live()}, true, none, sink.Update},
		{"a missing one is created", &TopicSink{}, sink.Change{Kind: KindTopic, Action: sink.Create, Observed: &sink.Observed{}}, false, none, sink.Create},
		{"a shared team user is used as is", &UserSink{}, sink.Change{Kind: KindUser, Action: sink.Noop, Observed: live()}, false, none, sink.Noop},
		{"but never changed", &UserSink{}, sink.Change{Kind: KindUser, Action: sink.Update, Observed: live()}, false, none, sink.Blocked},
		{"an our topic's ACLs are ours", &ACLSink{}, sink.Change{Kind: KindACL, Name: "t", Action: sink.Update, Observed: live()}, false, topicOurs, sink.Update},
		{"another topic's are not", &ACLSink{}, sink.Change{Kind: KindACL, Name: "u", Action: sink.Update, Observed: live()}, false, topicOurs, sink.Blocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink.Own(tc.s, &tc.c, sink.Ownership{Recorded: tc.recorded, Owns: tc.owns})
			if tc.c.Action != tc.want {
				t.Fatalf("%s (%s), want %s", tc.c.Action, tc.c.Reason, tc.want)
			}
		})
	}
}
