package stores

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/counterstore/embedded"
	"github.com/evctl/evctl/pkg/data/counterstore/redis"
)

// Open opens raw (redis://host:port/db or file://path). A relative file:// path is relative to
// root, the contracts repository. env namespaces Redis keys ("{evctl:<env>}:") so environments can
// share a database. password is the Redis password ("": none), from counters.password_env.
func Open(ctx context.Context, raw, root, env, password string) (counterstore.Store, error) {
	kind, _, err := counterstore.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	switch kind {
	case counterstore.KindRedis:
		// The hash tag puts every key of the environment in one slot, so the apply script's keys
		// are on one node on Redis Cluster too.
		return redis.Open(ctx, raw, "{evctl:"+env+"}:", password)
	default:
		dir := filepath.FromSlash(strings.TrimPrefix(raw, "file://"))
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		return embedded.Open(dir)
	}
}
