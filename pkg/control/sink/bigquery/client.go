package bigquery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

// Config says which BigQuery to talk to.
type Config struct {
	// Project is the project the client bills jobs to; tables name their own project.
	Project string
	// Location is where datasets evctl creates live ("" = BigQuery's default, US).
	Location string
	// Endpoint is a BigQuery REST endpoint such as an emulator's "http://127.0.0.1:9050" (a
	// bare host:port gets http://). When set, requests go there without authentication; when
	// empty, they go to BigQuery with the Google default credentials.
	Endpoint string
	// ClientOptions are appended to the client's options (tests: an HTTP client).
	ClientOptions []option.ClientOption
}

// Client is a BigQuery client shared by the sink's calls.
type Client struct {
	bq       *bq.Client
	location string

	mu       sync.Mutex
	datasets map[string]bool // "project.dataset" known to exist
}

// Connect returns a client for cfg. It does no request: an unreachable endpoint shows on the
// first call (use Ping to check at the edge). The error is for invalid options or missing
// default credentials.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Project == "" {
		return nil, errors.New("bigquery: connect: no project")
	}
	var opts []option.ClientOption
	if cfg.Endpoint != "" {
		ep := cfg.Endpoint
		if !strings.Contains(ep, "://") {
			ep = "http://" + ep
		}
		opts = append(opts, option.WithEndpoint(ep), option.WithoutAuthentication())
	}
	opts = append(opts, cfg.ClientOptions...)
	c, err := bq.NewClient(ctx, cfg.Project, opts...)
	if err != nil {
		return nil, fmt.Errorf("bigquery: connect: %w", err)
	}
	if cfg.Location != "" {
		c.Location = cfg.Location
	}
	return &Client{bq: c, location: cfg.Location, datasets: map[string]bool{}}, nil
}

// Close releases the client.
func (c *Client) Close() error { return c.bq.Close() }

// Ping reads one page of the client project's datasets, to tell "reachable" from not at the
// edge (envconn). The error is the request's.
func (c *Client) Ping(ctx context.Context) error {
	it := c.bq.Datasets(ctx)
	it.PageInfo().MaxSize = 1
	if _, err := it.Next(); err != nil && !errors.Is(err, iterator.Done) {
		return fmt.Errorf("bigquery: list datasets of %s: %w", c.bq.Project(), err)
	}
	return nil
}

// ensureDataset creates the dataset when it is missing (create-only: an existing dataset, with
// whatever settings, is left alone).
func (c *Client) ensureDataset(ctx context.Context, project, dataset string) error {
	key := project + "." + dataset
	c.mu.Lock()
	known := c.datasets[key]
	c.mu.Unlock()
	if known {
		return nil
	}
	ds := c.bq.DatasetInProject(project, dataset)
	if _, err := ds.Metadata(ctx); err != nil {
		if !isStatus(err, http.StatusNotFound) {
			return fmt.Errorf("bigquery: read dataset %s: %w", key, err)
		}
		err = ds.Create(ctx, &bq.DatasetMetadata{Location: c.location, Labels: map[string]string{LabelManaged: "true"}})
		if err != nil && !isStatus(err, http.StatusConflict) {
			return fmt.Errorf("bigquery: create dataset %s: %w", key, err)
		}
	}
	c.mu.Lock()
	c.datasets[key] = true
	c.mu.Unlock()
	return nil
}

func (c *Client) table(project, dataset, table string) *bq.Table {
	return c.bq.DatasetInProject(project, dataset).Table(table)
}

// isStatus reports whether err is a BigQuery API error with the given HTTP status.
func isStatus(err error, code int) bool {
	var gerr *googleapi.Error
	return errors.As(err, &gerr) && gerr.Code == code
}
