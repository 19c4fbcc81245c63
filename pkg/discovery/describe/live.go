package describe

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// Live are the environment's systems the live facts come from.
type Live struct {
	State blob.Store // required
	// Admin reads consumer groups and offsets; nil when Kafka is not reachable, KafkaErr says why.
	Admin    *kadm.Client
	KafkaErr error
	// Sample is how long to wait between the two end-offset reads of the throughput; 0 skips it.
	Sample time.Duration
	// AuditLimit keeps the most recent records only; 0 keeps all.
	AuditLimit int
}

// AddLive fills the report's live facts from the environment named by r.Env. Every part that
// cannot be read is recorded in r.Errors and the others are still filled; the only error
// returned is ctx's, when it ends.
func (r *Report) AddLive(ctx context.Context, l Live) error {
	r.addStatus(ctx, l.State)
	r.addAudit(ctx, l.State, l.AuditLimit)
	topic := ""
	for _, s := range r.Sinks {
		if s.Kind == kafka.KindTopic {
			topic = s.Name
		}
	}
	if topic == "" {
		return ctx.Err()
	}
	if l.Admin == nil {
		reason := "not reachable"
		if l.KafkaErr != nil {
			reason = l.KafkaErr.Error()
		}
		r.Errors = append(r.Errors, "kafka: consumer groups and throughput: "+reason)
		return ctx.Err()
	}
	r.addGroups(ctx, l.Admin, topic)
	if l.Sample > 0 {
		r.addThroughput(ctx, l.Admin, topic, l.Sample)
	}
	return ctx.Err()
}

func (r *Report) addStatus(ctx context.Context, store blob.Store) {
	st, _, err := state.Read(ctx, store, r.Env)
	if err != nil {
		r.Errors = append(r.Errors, err.Error())
		return
	}
	seen := map[string]bool{}
	for i := range r.Sinks {
		s := &r.Sinks[i]
		key := state.ResourceKey(s.Kind, s.Name)
		seen[key] = true
		rec, ok := st.Resources[key]
		if !ok {
			s.Status = "not applied"
			continue
		}
		s.Status, s.Error, s.Time, s.Commit, s.Facts = string(rec.Status), rec.Error, rec.Time, rec.Commit, rec.Facts
	}
	// Resources state still holds for the event under other names (a renamed topic, a table in
	// another dataset) are shown too: they exist until an apply removes them.
	var extra []Sink
	for key, rec := range st.Resources {
		if rec.Event == r.Event && !seen[key] {
			extra = append(extra, Sink{Kind: rec.Kind, Name: rec.Name, Status: string(rec.Status), Error: rec.Error, Time: rec.Time, Commit: rec.Commit, Facts: rec.Facts})
		}
	}
	sort.Slice(extra, func(i, j int) bool {
		return state.ResourceKey(extra[i].Kind, extra[i].Name) < state.ResourceKey(extra[j].Kind, extra[j].Name)
	})
	r.Sinks = append(r.Sinks, extra...)
}

func (r *Report) addAudit(ctx context.Context, store blob.Store, limit int) {
	recs, err := state.ReadAudit(ctx, store, r.Env, r.Event)
	if err != nil {
		r.Errors = append(r.Errors, err.Error())
		return
	}
	if limit > 0 && len(recs) > limit {
		recs = recs[len(recs)-limit:]
	}
	for _, rec := range recs {
		a := Audit{ID: rec.ID, Time: rec.Time, Who: rec.Who, Commit: rec.Commit, Changes: []AuditChange{}}
		results := map[string]state.AuditResult{}
		for _, res := range rec.Results {
			if res.Event == r.Event {
				results[state.ResourceKey(res.Kind, res.Name)] = res
			}
		}
		for _, c := range rec.Changes {
			if c.Event != r.Event {
				continue
			}
			ac := AuditChange{Kind: c.Kind, Name: c.Name, Action: c.Action}
			if res, ok := results[state.ResourceKey(c.Kind, c.Name)]; ok {
				ac.Status, ac.Error = string(res.Status), res.Error
			}
			a.Changes = append(a.Changes, ac)
		}
		r.Audit = append(r.Audit, a)
	}
}

// addGroups finds every consumer group with committed offsets (or assignments) on topic and its
// lag per partition.
func (r *Report) addGroups(ctx context.Context, adm *kadm.Client, topic string) {
	lags, err := adm.Lag(ctx) // no names: every group in the cluster
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("kafka: consumer groups: %v", err))
		return
	}
	for _, l := range lags.Sorted() {
		if l.Error() != nil {
			// A group that cannot be described or fetched says nothing about this topic.
			continue
		}
		parts, ok := l.Lag[topic]
		if !ok || len(parts) == 0 {
			continue
		}
		g := Group{Group: l.Group, State: l.State, Members: len(l.Members), Partitions: []PartitionLag{}}
		for p, ml := range parts {
			pl := PartitionLag{Partition: p, Committed: ml.Commit.At, End: ml.End.Offset, Lag: ml.Lag}
			if ml.Err != nil {
				pl.Error = ml.Err.Error()
			}
			if ml.Lag > 0 {
				g.Lag += ml.Lag
			}
			g.Partitions = append(g.Partitions, pl)
		}
		sort.Slice(g.Partitions, func(i, j int) bool { return g.Partitions[i].Partition < g.Partitions[j].Partition })
		r.Groups = append(r.Groups, g)
	}
}

// addThroughput reads the topic's end offsets, waits sample, reads them again.
func (r *Report) addThroughput(ctx context.Context, adm *kadm.Client, topic string, sample time.Duration) {
	sum := func() (int64, error) {
		offs, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = offs.Error()
		}
		if err != nil {
			return 0, err
		}
		var n int64
		offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n, nil
	}
	start := time.Now()
	first, err := sum()
	if err == nil {
		t := time.NewTimer(sample)
		select {
		case <-ctx.Done():
			t.Stop()
			err = ctx.Err()
		case <-t.C:
		}
	}
	var last int64
	if err == nil {
		last, err = sum()
	}
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("kafka: throughput of %s: %v", topic, err))
		return
	}
	secs := time.Since(start).Seconds()
	r.Throughput = &Throughput{IntervalSeconds: round(secs), Records: last - first, EndOffset: last}
	if secs > 0 {
		r.Throughput.PerSecond = round(float64(last-first) / secs)
	}
}

func round(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
