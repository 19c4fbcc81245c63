package state

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// AuditRecord is one apply, as <env>/audit/<time>-<id>.json records it.
type AuditRecord struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"` // when it was recorded, at the end of the apply
	// Started is when the apply began (before taking the lock); Time minus Started is how long
	// it took, without compiling and planning.
	Started time.Time     `json:"started,omitzero"`
	Who     string        `json:"who"`
	Commit  string        `json:"commit"`
	Env     string        `json:"env"`
	Changes []AuditChange `json:"changes"`
	Results []AuditResult `json:"results"`
}

// AuditChange is one planned change the apply set out to make.
type AuditChange struct {
	Event  string `json:"event"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action string `json:"action"` // create, update, replace, delete, noop, blocked, skipped
}

// AuditResult is how one resource ended.
type AuditResult struct {
	Event  string `json:"event"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	Error  string `json:"error,omitempty"`
}

// mentions reports whether the record touches event; every record mentions "".
func (r AuditRecord) mentions(event string) bool {
	if event == "" {
		return true
	}
	for _, c := range r.Changes {
		if c.Event == event {
			return true
		}
	}
	for _, c := range r.Results {
		if c.Event == event {
			return true
		}
	}
	return false
}

// auditTimeFormat is RFC 3339 in UTC with all nine fractional digits, so object names sort
// in time order.
const auditTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func auditPrefix(env string) string { return env + "/audit/" }

// AppendAudit stores rec as a new object of env's audit log and returns it as stored: ID and
// Time are filled in when empty and Env is set to env. Each record is its own object,
// created only if absent, so concurrent appends never overwrite each other. Errors are the
// store's, wrapped.
func AppendAudit(ctx context.Context, store blob.Store, env string, rec AuditRecord) (AuditRecord, error) {
	if err := checkEnv(env); err != nil {
		return AuditRecord{}, err
	}
	if rec.ID == "" {
		id, err := uuid.NewV7() // time-ordered, for people reading the bucket
		if err != nil {
			return AuditRecord{}, fmt.Errorf("state: append audit to %q: %w", env, err)
		}
		rec.ID = id.String()
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Time = rec.Time.UTC()
	rec.Env = env
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return AuditRecord{}, fmt.Errorf("state: append audit to %q: %w", env, err)
	}
	key := auditPrefix(env) + rec.Time.Format(auditTimeFormat) + "-" + rec.ID + ".json"
	if _, err := store.Put(ctx, key, append(data, '\n'), blob.PutOpts{IfNotExist: true}); err != nil {
		return AuditRecord{}, fmt.Errorf("state: append audit to %q: %w", env, err)
	}
	return rec, nil
}

// ReadAudit returns env's audit records that mention event in a change or a result (every
// record when event is ""), oldest first; records with equal times are ordered by ID. A record
// that does not parse is an error naming its object, never skipped.
func ReadAudit(ctx context.Context, store blob.Store, env, event string) ([]AuditRecord, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	keys, err := store.List(ctx, auditPrefix(env))
	if err != nil {
		return nil, fmt.Errorf("state: read audit of %q: %w", env, err)
	}
	var out []AuditRecord
	for _, key := range keys {
		if !strings.HasSuffix(key, ".json") {
			continue // not written by AppendAudit
		}
		data, _, err := store.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("state: read audit of %q: %w", env, err)
		}
		var rec AuditRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, fmt.Errorf("state: read audit of %q: %s is not an audit record: %w", env, objectURL(store, key), err)
		}
		if rec.mentions(event) {
			out = append(out, rec)
		}
	}
	slices.SortStableFunc(out, func(a, b AuditRecord) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
