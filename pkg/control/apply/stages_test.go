package apply

import (
	"reflect"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink"
)

// TestStages checks the waves an apply runs in: kinds that depend on nothing first (descriptors
// and team users together), then what depends only on them, then ACLs, which depend on topics.
func TestStages(t *testing.T) {
	ch := func(kind, name string, deps ...string) sink.Change {
		return sink.Change{Kind: kind, Name: name, Desired: &sink.Desired{Kind: kind, Name: name, DependsOn: deps}}
	}
	changes := []sink.Change{
		ch("kafka_acl", "t", "descriptor/e", "kafka_topic/t", "kafka_user/u"),
		ch("kafka_topic", "t", "descriptor/e"),
		ch("descriptor", "e"),
		ch("kafka_user", "u"),
		ch("delta_table", "d", "descriptor/e"),
	}
	var got [][]string
	for _, st := range stages(changes) {
		var kinds []string
		for _, k := range st {
			kinds = append(kinds, k[0].Kind)
		}
		got = append(got, kinds)
	}
	want := [][]string{{"descriptor", "kafka_user"}, {"kafka_topic", "delta_table"}, {"kafka_acl"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stages %v, want %v", got, want)
	}
}
