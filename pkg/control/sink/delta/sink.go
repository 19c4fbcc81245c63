package delta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// pointerPrefix is where evctl records, per table name, the location a replace moved it to.
// Names starting with "_" are ignored by Delta readers and VACUUM, and no table name (a path from
// the naming template) starts with it.
const pointerPrefix = "_evctl/locations/"

// defaultAttempts bounds how often Apply re-reads and retries after losing a commit race.
const defaultAttempts = 5

// Options tune a Sink. The zero value is usable.
type Options struct {
	// Now is the clock for createdTime and commitInfo timestamps (default time.Now).
	Now func() time.Time
	// NewID returns a table id (default: a random UUID).
	NewID func() string
	// MaxAttempts bounds the commit attempts of one Apply (default 5).
	MaxAttempts int
}

// Sink is the delta_table sink over one lake: a blob.Store opened at the environment's delta.url.
// It implements sink.Sink.
type Sink struct {
	Def
	store blob.Store
	base  string
	opts  Options
}

var (
	_ sink.Sink       = (*Sink)(nil)
	_ sink.FactSource = (*Sink)(nil)
)

// New returns the sink for tables under baseURL (delta.url as written in evctl.yaml; names are
// TableName(baseURL, rel)), stored in store (the same URL, resolved; the caller closes it).
func New(store blob.Store, baseURL string, opts Options) *Sink {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = func() string { return uuid.NewString() }
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = defaultAttempts
	}
	return &Sink{store: store, base: strings.TrimSuffix(baseURL, "/"), opts: opts}
}

// Facts are the describe facts of an observed table (see the package's Facts).
func (*Sink) Facts(o sink.Observed) map[string]string { return Facts(o) }

// key maps a table name to its key prefix in the store.
func (s *Sink) key(name string) (string, error) {
	rel, ok := strings.CutPrefix(name, s.base+"/")
	if !ok || strings.Trim(rel, "/") == "" {
		return "", fmt.Errorf("delta: table %q is not under the lake %s", name, s.base)
	}
	return strings.Trim(rel, "/"), nil
}

func (s *Sink) url(key string) string { return s.base + "/" + key }

// pointer is the object recording where a replaced table lives now.
type pointer struct {
	Location string `json:"location"` // key prefix in the store
	Revision int    `json:"revision"`
}

// locate returns the current location of the table named by key: key itself until a replace
// moved it, then what the pointer object says. gen is the pointer's generation ("" if none).
func (s *Sink) locate(ctx context.Context, key string) (pointer, blob.Gen, error) {
	b, gen, err := s.store.Get(ctx, pointerPrefix+key+".json")
	if errors.Is(err, blob.ErrNotExist) {
		return pointer{Location: key}, "", nil
	}
	if err != nil {
		return pointer{}, "", fmt.Errorf("delta: locate table %s: %w", s.url(key), err)
	}
	var p pointer
	if err := json.Unmarshal(b, &p); err != nil || p.Location == "" || p.Revision < 1 {
		return pointer{}, "", fmt.Errorf("delta: locate table %s: %w: %s%s.json is corrupt; fix or delete it (the table was at %s before any replace)", s.url(key), errTable, pointerPrefix, key, s.url(key))
	}
	return p, gen, nil
}

// Observe reads every wanted table: its current location (after any replace), then its log.
// It returns one Observed per distinct name, in want's order. A table whose log is missing does
// not exist; one that cannot be used (a corrupt log or location pointer, an unsupported
// protocol, a location holding files but no log, a name outside the lake) has Err set. The
// returned error is for the store failing (unreachable, permission denied) or ctx ending: the
// lake is one bucket or directory, so that failure is everyone's.
func (s *Sink) Observe(ctx context.Context, want []sink.Desired) ([]sink.Observed, error) {
	seen := map[string]bool{}
	var out []sink.Observed
	for _, d := range want {
		if seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		o, err := s.observe(ctx, d.Name)
		if err != nil {
			return nil, fmt.Errorf("delta: observe %s: %w", d.Name, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// errTable marks errors that concern one table only (as opposed to the store failing).
var errTable = errors.New("table error")

func (s *Sink) observe(ctx context.Context, name string) (sink.Observed, error) {
	o := sink.Observed{Kind: Kind, Name: name}
	key, err := s.key(name)
	if err != nil {
		o.Err = err
		return o, nil
	}
	p, _, err := s.locate(ctx, key)
	switch {
	case errors.Is(err, errTable):
		o.Err = err
		return o, nil
	case err != nil:
		return o, err
	}
	snap, err := deltalog.Read(ctx, s.store, p.Location)
	switch {
	case errors.Is(err, deltalog.ErrNoTable):
		return o, nil
	case errors.Is(err, deltalog.ErrCorrupt) || errors.Is(err, deltalog.ErrUnsupported):
		o.Err = fmt.Errorf("delta: %w", err)
		return o, nil
	case err != nil:
		return o, err
	}
	live := s.live(snap, p.Revision)
	o.Exists, o.Spec, o.Managed = true, live, snap.Metadata.Configuration[ManagedKey] == "true"
	return o, nil
}

func (s *Sink) live(snap *deltalog.Snapshot, rev int) Live {
	parts := snap.Metadata.PartitionColumns
	if parts == nil {
		parts = []string{}
	}
	return Live{
		TableSpec:     TableSpec{Event: snap.Metadata.Configuration[EventKey], Schema: snap.Schema, PartitionColumns: parts},
		URL:           s.url(snap.Location),
		Key:           snap.Location,
		Revision:      rev,
		Version:       snap.Version,
		TableID:       snap.Metadata.ID,
		ColumnMapping: snap.ColumnMapping,
		Protocol:      snap.Protocol,
	}
}

// Diff compares wanted tables with their observations; it does no I/O. For each table: missing
// → create; live and equal → noop; only additive differences (see evolution) → update, or
// blocked when the table uses column mapping or a writer protocol evctl does not implement; any
// other difference → replace for a staging event (a new location; the old table is left for
// cleanup) and blocked for a prod one; not marked evctl.managed=true, or marked for another
// event → blocked; Absent and live → delete; an observation that failed → blocked with its
// error. The error is for a spec of the wrong type or a wanted table with no observation.
func (s *Sink) Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	return sink.DiffEach(sink.Differ{
		Kind: Kind, What: "delta: diff table",
		DeleteReason: "removed from the repository; evctl never removes a Delta table's files: applying this delete fails and says what to remove by hand",
		Present: func(ch *sink.Change) error {
			d, o := ch.Desired, ch.Observed
			spec, err := tableSpec(d.Spec)
			if err != nil {
				return err
			}
			if !o.Exists {
				ch.Action, ch.Diff = sink.Create, createDiff(d.Name, spec)
				return nil
			}
			live, ok := o.Spec.(Live)
			if !ok {
				return fmt.Errorf("observed spec is %T, want delta.Live", o.Spec)
			}
			ch.Action, ch.Diff, ch.Reason = s.updateDiff(d, spec, live, o.Managed)
			return nil
		},
	}, want, have)
}

func createDiff(name string, spec TableSpec) []sink.DiffEntry {
	diff := []sink.DiffEntry{{Path: "location", To: name}}
	if len(spec.PartitionColumns) > 0 {
		diff = append(diff, sink.DiffEntry{Path: "partition_columns", To: strings.Join(spec.PartitionColumns, ",")})
	}
	for _, f := range spec.Schema.Fields {
		diff = append(diff, sink.DiffEntry{Path: "schema." + f.Name, To: f.Type.String()})
	}
	return diff
}

func (s *Sink) updateDiff(d *sink.Desired, want TableSpec, live Live, managed bool) (sink.Action, []sink.DiffEntry, string) {
	if !managed {
		return sink.Blocked, nil, fmt.Sprintf("the Delta table at %s has no %s=true in its configuration: it is not managed by evctl, which never changes it", live.URL, ManagedKey)
	}
	if live.Event != want.Event {
		return sink.Blocked, nil, fmt.Sprintf("the Delta table at %s belongs to event %q (its %s), not %q", live.URL, live.Event, EventKey, want.Event)
	}
	ev := evolve(live.TableSpec, want)
	if len(ev.diff) == 0 {
		return sink.Noop, nil, ""
	}
	stage := d.Stage
	if stage == "" {
		stage = want.Stage
	}
	if len(ev.breaking) > 0 {
		why := strings.Join(ev.breaking, "; ")
		if stage == "prod" {
			return sink.Blocked, ev.diff, "not an additive change to a prod table: " + why + "; bump major for a new table"
		}
		next := s.url(replaceKey(s.mustKey(d.Name), live.Revision+1))
		return sink.Replace, ev.diff, why + "; a new table is created at " + next + " and the old one at " + live.URL + " is left for cleanup"
	}
	if live.ColumnMapping != deltalog.ColumnMappingNone {
		return sink.Blocked, ev.diff, fmt.Sprintf("the table uses column mapping (mode %s): evctl does not add columns to it, since new columns need physical names and ids; add them with your Delta engine (ALTER TABLE ADD COLUMNS)", live.ColumnMapping)
	}
	if err := deltalog.CheckWrite(live.Protocol); err != nil {
		return sink.Blocked, ev.diff, "evctl cannot commit to this table: " + err.Error()
	}
	return sink.Update, ev.diff, ""
}

// mustKey is key for names Observe already accepted.
func (s *Sink) mustKey(name string) string {
	k, _ := s.key(name)
	return k
}

// replaceKey is the location of revision rev of the table whose first location is key.
func replaceKey(key string, rev int) string { return fmt.Sprintf("%s__r%d", key, rev) }
