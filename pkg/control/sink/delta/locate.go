package delta

import (
	"context"
	"strings"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// Locate returns the key prefix in store where the table with relative path rel (from
// config.Project.DeltaTableName) lives now: rel itself, or where a replace moved it. Writers
// (evctl ingest) use it to find the table apply created.
func Locate(ctx context.Context, store blob.Store, rel string) (string, error) {
	p, _, err := (&Sink{store: store}).locate(ctx, strings.Trim(rel, "/"))
	if err != nil {
		return "", err
	}
	return p.Location, nil
}
