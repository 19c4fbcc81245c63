package descstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// ErrBadSet reports a set that was read but cannot be built into descriptors, or that lacks the
// message asked for. Sets are content addressed, so asking again for the same sha256 gives the
// same answer. Test for it with errors.Is.
var ErrBadSet = errors.New("set cannot be built")

// loadTimeout bounds one shared fetch and build: it runs on for the other callers when the
// caller that started it gives up, so it cannot use that caller's deadline.
const loadTimeout = time.Minute

// Loader fetches sets from a store when they are first asked for, and builds their messages
// over one Files (imports shared across sets). Callers asking for the same set and message at
// the same time share one fetch and one build (singleflight); nothing is cached here beyond the
// shared imports: callers keep what they built (the gateway per event, the workers per sha256),
// so what is held follows what is in use, not what the store holds. It is safe for concurrent
// use.
type Loader struct {
	store blob.Store
	files *Files
	group singleflight.Group
}

// NewLoader reads sets from store.
func NewLoader(store blob.Store) *Loader {
	return &Loader{store: store, files: NewFiles()}
}

// Files is the shared-import cache the loader builds with.
func (l *Loader) Files() *Files { return l.files }

// Message returns the message named message in the set with the given sha256, fetching and
// building the set. Errors: a set missing from the store wraps blob.ErrNotExist; bytes that do
// not hash to sha wrap ErrCorruptSet; a set that cannot be built or lacks the message wraps
// ErrBadSet; anything else is the store's (transient: ask again). When ctx ends first, its error
// is returned and the shared fetch goes on for the other callers.
func (l *Loader) Message(ctx context.Context, sha, message string) (protoreflect.MessageDescriptor, error) {
	key := sha + "\x00" + message
	ch := l.group.DoChan(key, func() (any, error) {
		// Detached from the first caller: the others waiting on this fetch must not fail
		// because that one went away.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		b, err := ReadSet(lctx, l.store, sha)
		if err != nil {
			return nil, err
		}
		md, err := l.files.Message(b, message)
		if err != nil {
			return nil, fmt.Errorf("descstore: set %s: %w: %w", sha, ErrBadSet, err)
		}
		return md, nil
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("descstore: set %s: %w", sha, ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(protoreflect.MessageDescriptor), nil
	}
}
