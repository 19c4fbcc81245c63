package blob

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrNotExist reports that the object does not exist. Test for it with errors.Is.
var ErrNotExist = errors.New("object does not exist")

// ErrPrecondition reports that a create-only or generation-conditioned write or delete lost:
// the object exists (create-only) or its generation is no longer the one given. Nothing was
// changed. Test for it with errors.Is.
var ErrPrecondition = errors.New("precondition failed")

// Gen is the opaque generation of a stored object. Every write of an object gives it a new
// generation; a generation is only meaningful to the Store that returned it. The zero value
// means "no generation" (no condition, or no object).
type Gen string

// PutOpts makes a Put conditional. The zero value writes unconditionally.
type PutOpts struct {
	// IfGen writes only if the object currently exists with exactly this generation
	// (compare-and-swap). A missing object fails the condition.
	IfGen Gen
	// IfNotExist writes only if the object does not exist (create-only).
	IfNotExist bool
}

// Store is a flat namespace of objects addressed by key. Keys are slash-separated paths
// ("local/audit/x.json"); no segment may be empty, ".", "..", or start with "." (names starting
// with a dot are reserved for the backends' own temporary and lock files).
//
// Every method takes a context that bounds its I/O; errors name the store URL and the key and
// wrap ErrNotExist or ErrPrecondition where those apply.
type Store interface {
	// Get returns the object's content and its generation. A missing object is ErrNotExist.
	Get(ctx context.Context, key string) ([]byte, Gen, error)
	// Put writes the object atomically and returns its new generation. A condition in opts that
	// does not hold is ErrPrecondition, and nothing is written.
	Put(ctx context.Context, key string, data []byte, opts PutOpts) (Gen, error)
	// Delete removes the object. With ifGen set it removes it only if its generation is still
	// ifGen, else ErrPrecondition. A missing object is ErrNotExist.
	Delete(ctx context.Context, key string, ifGen Gen) error
	// List returns the keys that start with prefix (a plain string prefix, not a directory),
	// sorted. No match is an empty list, not an error.
	List(ctx context.Context, prefix string) ([]string, error)
	// URL is the URL the store was opened with, for messages.
	URL() string
	// Close releases the store's connections. The Store must not be used afterwards.
	Close() error
}

// Open returns the Store a URL names:
//
//   - file://path: a directory, relative to the working directory unless absolute
//     (file:///abs/path). Directories are created as objects are written.
//   - gs://bucket or gs://bucket/prefix: a Cloud Storage bucket, every key under prefix. With
//     STORAGE_EMULATOR_HOST set, the emulator is used without authentication; otherwise the
//     Google default credentials.
//
// Open does no I/O: an unreachable server or an unwritable directory shows on the first call.
//
// An unknown scheme or a malformed URL is an error.
func Open(ctx context.Context, url string) (Store, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return nil, fmt.Errorf("blob: open %q: want a gs:// or file:// URL", url)
	}
	switch scheme {
	case "file":
		return openFile(url, rest)
	case "gs":
		return openGCS(ctx, url, rest)
	default:
		return nil, fmt.Errorf("blob: open %q: unsupported scheme %q (want gs or file)", url, scheme)
	}
}

// checkKey enforces the key rules of Store on both backends, so a key that works on file://
// works on gs:// and the reverse.
func checkKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	for _, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("key %q has an empty segment", key)
		case seg == "." || seg == "..":
			return fmt.Errorf("key %q has a %q segment", key, seg)
		case strings.HasPrefix(seg, "."):
			return fmt.Errorf("key %q has a segment starting with a dot (reserved)", key)
		case strings.ContainsAny(seg, "\\\x00"):
			return fmt.Errorf("key %q has a backslash or NUL", key)
		}
	}
	return nil
}

// checkPrefix enforces the key rules on a List prefix, whose last segment may be partial or
// empty, so that no prefix reaches outside the store.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if trimmed := strings.TrimSuffix(prefix, "/"); trimmed != "" {
		return checkKey(trimmed)
	}
	return fmt.Errorf("prefix %q has an empty segment", prefix)
}

// checkPutOpts rejects contradictory conditions.
func checkPutOpts(opts PutOpts) error {
	if opts.IfNotExist && opts.IfGen != "" {
		return errors.New("IfGen and IfNotExist are mutually exclusive")
	}
	return nil
}

// OpenIn is Open with a relative file:// URL taken relative to root (evctl.yaml's directory)
// instead of the working directory, so a repository's stores are the same wherever evctl runs.
func OpenIn(ctx context.Context, root, url string) (Store, error) {
	return Open(ctx, ResolveIn(root, url))
}

// ResolveIn returns url with a relative file:// path made absolute under root; any other URL is
// returned as it is.
func ResolveIn(root, url string) string {
	if rest, ok := strings.CutPrefix(url, "file://"); ok && !filepath.IsAbs(rest) {
		return "file://" + filepath.ToSlash(filepath.Join(root, filepath.FromSlash(rest)))
	}
	return url
}
