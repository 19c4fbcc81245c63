package lint_test

import (
	"testing"

	"github.com/evctl/evctl/pkg/contracts/contract"
)

// TestCountersGood: the SPEC's own example counter, on an event with the fields it names, lints
// clean, and the model reads every part of it.
func TestCountersGood(t *testing.T) {
	const ev = `name: post_liked
domain: feed
owner: {team: growth, pod: feed}
description: A user liked a post.
stage: prod
schema:
  fields:
    - {name: post_id, type: string, mode: required, number: 1}
    - {name: action, type: enum, values: [LIKE, UNLIKE], number: 2}
    - {name: weight, type: int64, number: 3}
counters:
  - name: post_likes
    key: post_id
    where: {action: LIKE}
    sum: 1
    windows:
      - {below: 1000, every: 5s}
      - {below: 100000, every: 1m}
      - {every: 5m}
    milestones: [100, 1000, 10000, 100000, 1000000]
  - name: post_weight
    key: post_id
    sum: weight
    windows: [{every: 10s}]
`
	dir := writeRepo(t, map[string]string{"contracts/feed/post_liked.yaml": ev})
	if ds := checkRepo(t, dir); len(ds) > 0 {
		t.Fatalf("want no findings, got %v", findings(ds))
	}
	e, ds := contract.Parse("contracts/feed/post_liked.yaml", []byte(ev))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	c := e.Counters[0]
	if c.Name != "post_likes" || c.Key != "post_id" || c.Where["action"] != "LIKE" || !c.Counts() ||
		len(c.Windows) != 3 || c.Windows[1].Below != 100000 || c.Windows[2].Every != "5m" || len(c.Milestones) != 5 {
		t.Fatalf("counter read wrong: %+v", c)
	}
	if e.Counters[1].Counts() || e.Counters[1].Sum != "weight" {
		t.Fatalf("sum counter read wrong: %+v", e.Counters[1])
	}
}
