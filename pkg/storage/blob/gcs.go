package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

// gcsMaxAttempts bounds the client's retries of transient errors. The client's default is to
// retry until the context ends, which turns an unreachable server into a hang for any caller
// without a deadline; five attempts with the backoff below give up within a few seconds.
const gcsMaxAttempts = 5

// gcsStore keeps objects in one bucket under a prefix. Conditions map to GCS preconditions:
// IfNotExist is DoesNotExist (ifGenerationMatch=0) and IfGen is GenerationMatch, so the
// server decides and concurrent writers anywhere are safe.
type gcsStore struct {
	url    string
	client *storage.Client
	bucket *storage.BucketHandle
	prefix string // "" or ending in "/"
}

func openGCS(ctx context.Context, url, rest string) (*gcsStore, error) {
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return nil, fmt.Errorf("blob: open %q: no bucket", url)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := checkKey(prefix); err != nil {
			return nil, fmt.Errorf("blob: open %q: prefix: %w", url, err)
		}
		prefix += "/"
	}
	// Against the emulator the default XML-API reads answer "object doesn't exist"; JSON reads
	// work against both the emulator and GCS.
	opts := []option.ClientOption{storage.WithJSONReads()}
	if os.Getenv("STORAGE_EMULATOR_HOST") != "" {
		opts = append(opts, option.WithoutAuthentication())
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("blob: open %q: %w", url, err)
	}
	client.SetRetry(
		storage.WithMaxAttempts(gcsMaxAttempts),
		storage.WithBackoff(gax.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2}),
	)
	return &gcsStore{url: url, client: client, bucket: client.Bucket(bucket), prefix: prefix}, nil
}

func (s *gcsStore) URL() string  { return s.url }
func (s *gcsStore) Close() error { return s.client.Close() }

// Get implements Store.
func (s *gcsStore) Get(ctx context.Context, key string) ([]byte, Gen, error) {
	if err := checkKey(key); err != nil {
		return nil, "", fmt.Errorf("blob: get %q from %s: %w", key, s.url, err)
	}
	r, err := s.bucket.Object(s.prefix + key).NewReader(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("blob: get %q from %s: %w", key, s.url, gcsErr(err))
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, "", fmt.Errorf("blob: get %q from %s: %w", key, s.url, gcsErr(err))
	}
	return data, formatGen(r.Attrs.Generation), nil
}

// Put implements Store.
func (s *gcsStore) Put(ctx context.Context, key string, data []byte, opts PutOpts) (Gen, error) {
	gen, err := s.put(ctx, key, data, opts)
	if err != nil {
		return "", fmt.Errorf("blob: put %q to %s: %w", key, s.url, err)
	}
	return gen, nil
}

func (s *gcsStore) put(ctx context.Context, key string, data []byte, opts PutOpts) (Gen, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if err := checkPutOpts(opts); err != nil {
		return "", err
	}
	obj := s.bucket.Object(s.prefix + key)
	switch {
	case opts.IfNotExist:
		obj = obj.If(storage.Conditions{DoesNotExist: true})
	case opts.IfGen != "":
		g, err := parseGen(opts.IfGen)
		if err != nil {
			return "", err
		}
		obj = obj.If(storage.Conditions{GenerationMatch: g})
	}
	// The context is cancelled on every failure path so an unfinished upload is abandoned
	// rather than committed by Close.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := obj.NewWriter(ctx)
	w.ChunkSize = 0 // one request: objects here are small, and a single request is atomic
	w.ContentType = contentType(key)
	if _, err := w.Write(data); err != nil {
		w.Close()
		return "", gcsErr(err)
	}
	if err := w.Close(); err != nil {
		return "", gcsErr(err)
	}
	return formatGen(w.Attrs().Generation), nil
}

// Delete implements Store.
func (s *gcsStore) Delete(ctx context.Context, key string, ifGen Gen) error {
	if err := s.delete(ctx, key, ifGen); err != nil {
		return fmt.Errorf("blob: delete %q from %s: %w", key, s.url, err)
	}
	return nil
}

func (s *gcsStore) delete(ctx context.Context, key string, ifGen Gen) error {
	if err := checkKey(key); err != nil {
		return err
	}
	obj := s.bucket.Object(s.prefix + key)
	if ifGen == "" {
		return gcsErr(obj.Delete(ctx))
	}
	g, err := parseGen(ifGen)
	if err != nil {
		return err
	}
	// GenerationMatch is what GCS checks against the live object. fake-gcs-server ignores it on
	// delete but honours an explicit generation, which on GCS also never removes a newer live
	// version; sending both gives the conditional delete on either server.
	err = gcsErr(obj.Generation(g).If(storage.Conditions{GenerationMatch: g}).Delete(ctx))
	if !errors.Is(err, ErrNotExist) {
		return err
	}
	// "No such generation" also means "replaced since": tell the two apart.
	attrs, aerr := obj.Attrs(ctx)
	if aerr == nil && attrs.Generation != g {
		return fmt.Errorf("%w: generation is %d, want %d", ErrPrecondition, attrs.Generation, g)
	}
	return err
}

// List implements Store.
func (s *gcsStore) List(ctx context.Context, prefix string) ([]string, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, fmt.Errorf("blob: list %q in %s: %w", prefix, s.url, err)
	}
	q := &storage.Query{Prefix: s.prefix + prefix}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return nil, fmt.Errorf("blob: list %q in %s: %w", prefix, s.url, err)
	}
	var keys []string
	it := s.bucket.Objects(ctx, q)
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("blob: list %q in %s: %w", prefix, s.url, gcsErr(err))
		}
		keys = append(keys, strings.TrimPrefix(attrs.Name, s.prefix))
	}
	sort.Strings(keys)
	return keys, nil
}

// gcsErr maps the client's not-found and precondition answers to this package's errors,
// keeping the original for the message.
func gcsErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) {
		return fmt.Errorf("%w (%v)", ErrNotExist, err)
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		switch gerr.Code {
		case http.StatusPreconditionFailed:
			return fmt.Errorf("%w (%v)", ErrPrecondition, err)
		case http.StatusNotFound:
			return fmt.Errorf("%w (%v)", ErrNotExist, err)
		}
	}
	return err
}

func formatGen(g int64) Gen { return Gen(strconv.FormatInt(g, 10)) }

// parseGen reads a generation back. One that is not a GCS generation (from another store, say)
// can never match, so it fails the precondition rather than the call.
func parseGen(g Gen) (int64, error) {
	n, err := strconv.ParseInt(string(g), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: %q is not a generation of this store", ErrPrecondition, g)
	}
	return n, nil
}

// contentType labels objects for people browsing the bucket; nothing here reads it back.
func contentType(key string) string {
	switch {
	case strings.HasSuffix(key, ".json"):
		return "application/json"
	default:
		return "application/octet-stream"
	}
}
