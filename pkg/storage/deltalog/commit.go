package deltalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// Commit writes actions as version v of the table at the key prefix table, only if that version
// does not exist yet (put-if-absent). It never overwrites: when another writer committed v first
// the error wraps ErrConflict and nothing was written; the caller re-reads the table and retries
// at the next version if its change still applies. v must be 0 (creating the table) or follow
// a version the caller read.
func Commit(ctx context.Context, store blob.Store, table string, v int64, actions []Action) error {
	if v < 0 {
		return fmt.Errorf("deltalog: commit version %d to %s: negative version", v, where(store, table))
	}
	data, err := EncodeCommit(actions)
	if err != nil {
		return err
	}
	_, err = store.Put(ctx, CommitKey(table, v), data, blob.PutOpts{IfNotExist: true})
	switch {
	case errors.Is(err, blob.ErrPrecondition):
		return fmt.Errorf("deltalog: commit version %d to %s: %w: the version exists (another writer committed it first)", v, where(store, table), ErrConflict)
	case err != nil:
		return fmt.Errorf("deltalog: commit version %d to %s: %w", v, where(store, table), err)
	}
	return nil
}
