package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// Version is the resources.json format this package reads and writes.
const Version = 1

// ErrConflict reports that resources.json changed between Read and Write: another writer got
// there first and nothing was written. It wraps blob.ErrPrecondition.
var ErrConflict = fmt.Errorf("state: resources.json changed since it was read: %w", blob.ErrPrecondition)

// Status is the outcome of the last apply of one resource. The strings are public API
// (evctl status -o json).
type Status string

// The statuses of SPEC section 4.
const (
	StatusOK      Status = "ok"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
	StatusPending Status = "pending"
)

// Record is what state remembers about one resource in one environment.
type Record struct {
	Event  string    `json:"event"`           // "feed/video_played"
	Kind   string    `json:"kind"`            // "kafka_topic"
	Name   string    `json:"name"`            // "local.feed.video_played.v1"
	Status Status    `json:"status"`          // ok, failed, skipped, pending
	Error  string    `json:"error,omitempty"` // the last error, for failed and skipped
	Time   time.Time `json:"time"`            // when the status was recorded
	Commit string    `json:"commit,omitempty"`
	Hash   string    `json:"hash,omitempty"` // content hash of what was applied
	// Facts are what describe and status show about the live resource (table ids, partition
	// counts). Never secrets: Write rejects keys that name one.
	Facts map[string]string `json:"facts,omitempty"`
}

// Key is the record's key in Resources.Resources.
func (r Record) Key() string { return ResourceKey(r.Kind, r.Name) }

// ResourceKey is the key of a resource in Resources.Resources: "kind/name".
func ResourceKey(kind, name string) string { return kind + "/" + name }

// Resources is the resources.json document of one environment.
type Resources struct {
	Version   int               `json:"version"`
	Resources map[string]Record `json:"resources"` // by ResourceKey
}

// NewResources returns an empty document.
func NewResources() *Resources {
	return &Resources{Version: Version, Resources: map[string]Record{}}
}

// CorruptError reports a resources.json that cannot be used: not JSON, or a format version
// this evctl does not know. Nothing is changed; Repair is the way out.
type CorruptError struct {
	Env    string
	Object string // the object's URL
	Reason string
	Newer  bool  // written by a newer evctl: upgrading is the better way out
	Err    error // the decoding error, if any
}

func (e *CorruptError) Error() string {
	repair := fmt.Sprintf("run \"evctl state repair --env %s\" to move it aside and start from an empty state (the next plan then sees every resource as unrecorded)", e.Env)
	if e.Newer {
		return fmt.Sprintf("state: %s is unusable: %s; upgrade evctl, or %s", e.Object, e.Reason, repair)
	}
	return fmt.Sprintf("state: %s is unusable: %s; %s", e.Object, e.Reason, repair)
}

func (e *CorruptError) Unwrap() error { return e.Err }

func resourcesKey(env string) string { return env + "/resources.json" }

// Read returns the resources.json of env and the generation to pass to Write. A missing
// document is an empty one with an empty generation. A corrupt one is a *CorruptError; other
// failures are the store's errors, wrapped.
func Read(ctx context.Context, store blob.Store, env string) (*Resources, blob.Gen, error) {
	if err := checkEnv(env); err != nil {
		return nil, "", err
	}
	data, gen, err := store.Get(ctx, resourcesKey(env))
	if errors.Is(err, blob.ErrNotExist) {
		return NewResources(), "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("state: read resources of %q: %w", env, err)
	}
	doc, err := decodeResources(store, env, data)
	if err != nil {
		return nil, "", err
	}
	return doc, gen, nil
}

func decodeResources(store blob.Store, env string, data []byte) (*Resources, error) {
	corrupt := func(reason string, err error) *CorruptError {
		return &CorruptError{Env: env, Object: objectURL(store, resourcesKey(env)), Reason: reason, Err: err}
	}
	var doc Resources
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, corrupt("not a JSON resources document ("+err.Error()+")", err)
	}
	if dec.More() {
		return nil, corrupt("trailing data after the JSON document", nil)
	}
	switch {
	case doc.Version > Version:
		e := corrupt(fmt.Sprintf("format version %d is newer than this evctl knows (%d)", doc.Version, Version), nil)
		e.Newer = true
		return nil, e
	case doc.Version != Version:
		return nil, corrupt(fmt.Sprintf("format version %d, want %d", doc.Version, Version), nil)
	}
	if doc.Resources == nil {
		doc.Resources = map[string]Record{}
	}
	return &doc, nil
}

// Write replaces the resources.json of env, but only if it is still at gen, the generation
// Read returned (empty: only if it does not exist). It returns the new generation. If another
// writer changed it meanwhile, the error wraps ErrConflict and nothing is written. A record
// whose facts look like a secret is refused before any I/O.
func Write(ctx context.Context, store blob.Store, env string, doc *Resources, gen blob.Gen) (blob.Gen, error) {
	if err := checkEnv(env); err != nil {
		return "", err
	}
	if err := checkSecrets(doc); err != nil {
		return "", fmt.Errorf("state: write resources of %q: %w", env, err)
	}
	out := *doc
	out.Version = Version
	if out.Resources == nil {
		out.Resources = map[string]Record{}
	}
	data, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return "", fmt.Errorf("state: write resources of %q: %w", env, err)
	}
	opts := blob.PutOpts{IfGen: gen, IfNotExist: gen == ""}
	newGen, err := store.Put(ctx, resourcesKey(env), append(data, '\n'), opts)
	if errors.Is(err, blob.ErrPrecondition) {
		return "", fmt.Errorf("state: write resources of %q: %w", env, ErrConflict)
	}
	if err != nil {
		return "", fmt.Errorf("state: write resources of %q: %w", env, err)
	}
	return newGen, nil
}

// ErrUnchanged, returned by an Update's mutate, says it changed nothing: Update then writes
// nothing and returns nil (an apply step with nothing to record costs one read, not a write).
var ErrUnchanged = errors.New("state: nothing to record")

// updateAttempts bounds Update's read-mutate-write loop. Conflicts come from apply recording
// several resources at once, each retry costs one read and one write, and jittered waits
// spread the writers out, so this is generous.
const updateAttempts = 20

// Update applies mutate to the current resources.json of env and writes it back, re-reading
// and re-applying mutate on each conflict, up to a bounded number of attempts. mutate must be
// safe to run several times. An error from mutate is returned as is, with nothing written;
// running out of attempts wraps ErrConflict; a corrupt document is a *CorruptError. A mutate
// that returns ErrUnchanged makes Update return nil without writing.
func Update(ctx context.Context, store blob.Store, env string, mutate func(*Resources) error) error {
	for attempt := range updateAttempts {
		doc, gen, err := Read(ctx, store, env)
		if err != nil {
			return err
		}
		if err := mutate(doc); err != nil {
			if errors.Is(err, ErrUnchanged) {
				return nil
			}
			return err
		}
		_, err = Write(ctx, store, env, doc, gen)
		if !errors.Is(err, ErrConflict) {
			return err
		}
		if err := blob.Backoff(ctx, attempt); err != nil {
			return fmt.Errorf("state: update resources of %q: %w", env, err)
		}
	}
	return fmt.Errorf("state: update resources of %q: gave up after %d attempts: %w", env, updateAttempts, ErrConflict)
}

// SetRecord records one resource's status with Update, replacing its previous record. It is
// what apply calls as each resource finishes. Errors are Update's.
func SetRecord(ctx context.Context, store blob.Store, env string, rec Record) error {
	return Update(ctx, store, env, func(doc *Resources) error {
		doc.Resources[rec.Key()] = rec
		return nil
	})
}

// Repair moves an unusable resources.json of env aside, to
// <env>/resources.json.corrupt-<time>, and starts an empty document in its place. It returns
// the key the object was moved to, or "" when there was nothing to repair (the document is
// missing or healthy: Repair never touches a healthy one). If the object changes while Repair
// runs, the error wraps ErrConflict and the copy aside is all that was written.
func Repair(ctx context.Context, store blob.Store, env string) (movedTo string, err error) {
	if err := checkEnv(env); err != nil {
		return "", err
	}
	key := resourcesKey(env)
	data, gen, err := store.Get(ctx, key)
	if errors.Is(err, blob.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("state: repair %q: %w", env, err)
	}
	if _, err := decodeResources(store, env, data); err == nil {
		return "", nil
	}
	movedTo = key + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	if _, err := store.Put(ctx, movedTo, data, blob.PutOpts{IfNotExist: true}); err != nil {
		return "", fmt.Errorf("state: repair %q: keep a copy of the corrupt document: %w", env, err)
	}
	if _, err := Write(ctx, store, env, NewResources(), gen); err != nil {
		return movedTo, fmt.Errorf("state: repair %q: %w", env, err)
	}
	return movedTo, nil
}

// checkSecrets refuses facts whose key names a secret: facts are shown by describe and status.
func checkSecrets(doc *Resources) error {
	secretWords := [...]string{"password", "passwd", "secret", "token", "credential", "private_key", "apikey", "api_key"}
	for key, rec := range doc.Resources {
		for fact := range rec.Facts {
			lower := strings.ToLower(fact)
			for _, w := range secretWords {
				if strings.Contains(lower, w) {
					return fmt.Errorf("record %s: fact %q looks like a secret; secrets never go into state", key, fact)
				}
			}
		}
	}
	return nil
}

// checkEnv keeps an environment name to one key segment, so one environment's objects can
// never land inside another's.
func checkEnv(env string) error {
	if env == "" || strings.ContainsAny(env, "/\\\x00") || strings.HasPrefix(env, ".") {
		return fmt.Errorf("state: invalid environment name %q", env)
	}
	return nil
}

// objectURL names an object for messages.
func objectURL(store blob.Store, key string) string {
	return strings.TrimSuffix(store.URL(), "/") + "/" + key
}
