package delta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// engineInfo names evctl in the commitInfo of its commits, where Spark writes its version.
const engineInfo = "evctl"

// ErrChanged reports that the table changed between plan and apply in a way the planned change
// no longer covers; nothing was written and a new plan is needed. Test with errors.Is.
var ErrChanged = errors.New("table changed since the plan")

// Apply executes one change. Every action re-reads the table first and is safe to repeat after
// a crash:
//
//   - create writes version 0 put-if-absent at the table's current location; a table already
//     there that is evctl's, for this event, with the wanted schema is success.
//   - update commits the next version with a new metaData (the live schema plus the wanted
//     additions). Losing the race for that version to another writer (a Spark job appending
//     data, another evctl) makes it re-read and retry at the following version, up to
//     Options.MaxAttempts; the other writer's commit is never overwritten. A table whose change
//     is no longer additive fails with ErrChanged.
//   - replace creates the table at the next location (<name>__r<n>) and then records it in the
//     lake's _evctl/locations/ pointer (compare-and-swap); the old table is left as it is for
//     cleanup by hand.
//   - delete is refused: evctl never removes a table's files. The error says what to remove.
func (s *Sink) Apply(ctx context.Context, c sink.Change) error {
	key, err := s.key(c.Name)
	if err != nil {
		return err
	}
	if c.Action == sink.Delete {
		where := c.Name
		if c.Observed != nil {
			if live, ok := c.Observed.Spec.(Live); ok {
				where = live.URL
			}
		}
		return fmt.Errorf("delta: delete table %s: not supported: evctl never removes a Delta table's files; drop the table in your engine or remove %s by hand, then apply again", c.Name, where)
	}
	if c.Desired == nil {
		return fmt.Errorf("delta: %s table %s: change carries no desired spec", c.Action, c.Name)
	}
	spec, err := tableSpec(c.Desired.Spec)
	if err != nil {
		return fmt.Errorf("delta: %s table %s: %w", c.Action, c.Name, err)
	}
	p, gen, err := s.locate(ctx, key)
	if err != nil {
		return err
	}
	switch c.Action {
	case sink.Create:
		return s.create(ctx, p, spec)
	case sink.Update:
		return s.update(ctx, p, spec)
	case sink.Replace:
		return s.replace(ctx, key, p, gen, spec)
	}
	return fmt.Errorf("delta: apply table %s: action %q is not applied by a sink", c.Name, c.Action)
}

// create writes version 0 at p.Location unless the wanted table is already there.
func (s *Sink) create(ctx context.Context, p pointer, spec TableSpec) error {
	snap, err := deltalog.Read(ctx, s.store, p.Location)
	switch {
	case err == nil:
		return s.adopt(snap, p, spec)
	case !errors.Is(err, deltalog.ErrNoTable):
		return fmt.Errorf("delta: create table %s: %w", s.url(p.Location), err)
	}
	actions, err := s.createActions(spec)
	if err != nil {
		return err
	}
	err = deltalog.Commit(ctx, s.store, p.Location, 0, actions)
	if errors.Is(err, deltalog.ErrConflict) {
		if snap, rerr := deltalog.Read(ctx, s.store, p.Location); rerr == nil {
			return s.adopt(snap, p, spec)
		}
	}
	if err != nil {
		return fmt.Errorf("delta: create table %s: %w", s.url(p.Location), err)
	}
	return nil
}

// adopt accepts an existing table as the created one when it is evctl's, for this event, and
// already has the wanted shape (an earlier apply created it, then crashed before recording).
func (s *Sink) adopt(snap *deltalog.Snapshot, p pointer, spec TableSpec) error {
	live := s.live(snap, p.Revision)
	if err := s.owned(live, snap, spec); err != nil {
		return fmt.Errorf("delta: create table %s: a table exists there: %w", live.URL, err)
	}
	if ev := evolve(live.TableSpec, spec); len(ev.diff) > 0 {
		return fmt.Errorf("delta: create table %s: %w: a table for this event exists there with another shape (%d differences); run plan again", live.URL, ErrChanged, len(ev.diff))
	}
	return nil
}

func (s *Sink) owned(live Live, snap *deltalog.Snapshot, spec TableSpec) error {
	if snap.Metadata.Configuration[ManagedKey] != "true" {
		return fmt.Errorf("%w: it has no %s=true: not managed by evctl", ErrChanged, ManagedKey)
	}
	if live.Event != spec.Event {
		return fmt.Errorf("%w: it belongs to event %q, not %q", ErrChanged, live.Event, spec.Event)
	}
	return nil
}

func (s *Sink) createActions(spec TableSpec) ([]deltalog.Action, error) {
	schema, err := SchemaString(spec.Schema)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now().UnixMilli()
	parts := append([]string{}, spec.PartitionColumns...)
	partsJSON, _ := json.Marshal(parts)
	return []deltalog.Action{
		{CommitInfo: map[string]any{"timestamp": now, "operation": "CREATE TABLE", "engineInfo": engineInfo, "isBlindAppend": true,
			"operationParameters": map[string]any{"partitionBy": string(partsJSON), "description": "evctl table for " + spec.Event}}},
		{Protocol: &deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}},
		{MetaData: &deltalog.Metadata{
			ID:               s.opts.NewID(),
			Format:           deltalog.Format{Provider: "parquet", Options: map[string]string{}},
			SchemaString:     schema,
			PartitionColumns: parts,
			Configuration:    map[string]string{ManagedKey: "true", EventKey: spec.Event},
			CreatedTime:      &now,
		}},
	}, nil
}

// update evolves the table at p.Location to spec, retrying when another writer wins a version.
func (s *Sink) update(ctx context.Context, p pointer, spec TableSpec) error {
	url := s.url(p.Location)
	for attempt := 1; ; attempt++ {
		snap, err := deltalog.Read(ctx, s.store, p.Location)
		if err != nil {
			return fmt.Errorf("delta: update table %s: %w", url, err)
		}
		live := s.live(snap, p.Revision)
		if err := s.owned(live, snap, spec); err != nil {
			return fmt.Errorf("delta: update table %s: %w", url, err)
		}
		ev := evolve(live.TableSpec, spec)
		switch {
		case len(ev.diff) == 0:
			return nil // done, by an earlier attempt or apply
		case len(ev.breaking) > 0:
			return fmt.Errorf("delta: update table %s: %w, and the change is no longer additive: %s; run plan again", url, ErrChanged, ev.breaking[0])
		case snap.ColumnMapping != deltalog.ColumnMappingNone:
			return fmt.Errorf("delta: update table %s: the table uses column mapping (mode %s), which evctl does not evolve", url, snap.ColumnMapping)
		}
		if err := deltalog.CheckWrite(snap.Protocol); err != nil {
			return fmt.Errorf("delta: update table %s: %w", url, err)
		}
		schema, err := SchemaString(ev.schema)
		if err != nil {
			return err
		}
		md := snap.Metadata
		md.SchemaString = schema
		actions := []deltalog.Action{
			{CommitInfo: map[string]any{"timestamp": s.opts.Now().UnixMilli(), "operation": "ADD COLUMNS", "engineInfo": engineInfo,
				"readVersion": snap.Version, "isBlindAppend": false, "operationParameters": map[string]any{"changes": len(ev.diff)}}},
			{MetaData: &md},
		}
		err = deltalog.Commit(ctx, s.store, p.Location, snap.Version+1, actions)
		if errors.Is(err, deltalog.ErrConflict) && attempt < s.opts.MaxAttempts {
			continue // another writer took that version: re-read and try the next one
		}
		if err != nil {
			return fmt.Errorf("delta: update table %s (attempt %d of %d): %w", url, attempt, s.opts.MaxAttempts, err)
		}
		return nil
	}
}

// replace creates the wanted table at the next location and points the name at it.
func (s *Sink) replace(ctx context.Context, key string, cur pointer, gen blob.Gen, spec TableSpec) error {
	if snap, err := deltalog.Read(ctx, s.store, cur.Location); err == nil && s.adopt(snap, cur, spec) == nil {
		return nil // the current location already is the wanted table: a repeated apply
	}
	next := pointer{Location: replaceKey(key, cur.Revision+1), Revision: cur.Revision + 1}
	if err := s.create(ctx, next, spec); err != nil {
		return fmt.Errorf("delta: replace table %s: %w", s.url(key), err)
	}
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	opts := blob.PutOpts{IfGen: gen, IfNotExist: gen == ""}
	if _, err := s.store.Put(ctx, pointerPrefix+key+".json", b, opts); err != nil {
		if errors.Is(err, blob.ErrPrecondition) {
			return fmt.Errorf("delta: replace table %s: %w: another apply moved it at the same time; run plan again", s.url(key), ErrChanged)
		}
		return fmt.Errorf("delta: replace table %s: record the new location %s: %w", s.url(key), s.url(next.Location), err)
	}
	return nil
}
