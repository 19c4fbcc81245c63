package count

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// TestMilestoneContract: the embedded contract compiles to a stable set, a record round-trips,
// and Publish puts the set where tail finds it (twice is fine: create-only).
func TestMilestoneContract(t *testing.T) {
	ctx := context.Background()
	a, err := CompileMilestone(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := CompileMilestone(ctx)
	if a.SHA256 != b.SHA256 || string(a.Message.FullName()) != MilestoneMessage {
		t.Fatalf("unstable or wrong: %s vs %s, %s", a.SHA256, b.SHA256, a.Message.FullName())
	}
	in := Milestone{Counter: "post_likes", Key: "p1", Milestone: 1000, Value: 1003, ReachedAt: time.Unix(1700000000, 5).UTC()}
	enc, err := a.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.Decode(enc)
	if err != nil || out != in {
		t.Fatalf("round trip: %+v, %v; want %+v", out, err, in)
	}
	store, err := blob.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := a.Publish(ctx, store); err != nil {
			t.Fatal(err)
		}
	}
	got, err := descstore.ReadSet(ctx, store, a.SHA256)
	if err != nil || string(got) != string(a.Set) {
		t.Fatalf("published set: %d bytes, %v", len(got), err)
	}
}

// TestCrossedOncePastThePeak: milestones are crossings of the key's peak, so a signed sum that
// takes a value down and back up past a milestone does not report it again (once per counter,
// key and milestone, SPEC-dataplane 12), and one change may cross several.
func TestCrossedOncePastThePeak(t *testing.T) {
	ms := []int64{100, 1000, 10000}
	cases := []struct {
		peak, new int64
		want      string
	}{
		{0, 99, "[]"}, {0, 100, "[100]"}, {99, 10000, "[100 1000 10000]"},
		{1000, 1000, "[]"}, // fell from 1000 and came back to it: reached before
		{1010, 1500, "[]"}, // the same after rising past it
		{1010, 999, "[]"},  // a fall crosses nothing
		{9999, 10000, "[10000]"},
	}
	for _, c := range cases {
		if got := fmt.Sprint(Crossed(ms, c.peak, c.new)); got != c.want {
			t.Errorf("Crossed(peak %d, new %d) = %s, want %s", c.peak, c.new, got, c.want)
		}
	}
}
