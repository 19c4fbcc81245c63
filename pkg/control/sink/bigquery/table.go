package bigquery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	bq "cloud.google.com/go/bigquery"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/googleapi"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink"
)

// observeParallelism bounds concurrent tables.get calls in Observe: BigQuery has no batch read
// of table metadata, and a plan of a thousand tables one at a time would take minutes.
const observeParallelism = 8

// TableSink is the bigquery_table sink. It implements sink.Sink.
type TableSink struct {
	Def
	c *Client
}

var (
	_ sink.Sink       = (*TableSink)(nil)
	_ sink.FactSource = (*TableSink)(nil)
)

// NewTableSink returns the table sink over c.
func NewTableSink(c *Client) *TableSink { return &TableSink{c: c} }

// Observe reads every wanted table's metadata (tables.get, a few at a time) and returns one
// Observed per distinct name, in want's order, with a LiveTable as Spec. A table that does not
// exist is !Exists; one whose labels carry evctl-managed=true is Managed. The returned error is
// for BigQuery being unreachable (a transport error, or ctx ending); an API error for one table
// (say, permission denied) is that Observed's Err.
func (s *TableSink) Observe(ctx context.Context, want []sink.Desired) ([]sink.Observed, error) {
	var names []string
	seen := map[string]bool{}
	for _, d := range want {
		if !seen[d.Name] {
			seen[d.Name] = true
			names = append(names, d.Name)
		}
	}
	out := make([]sink.Observed, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(observeParallelism)
	for i, n := range names {
		g.Go(func() error {
			o, err := s.observe(gctx, n)
			out[i] = o
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// observe reads one table. The error is for a failure that is not about this table.
func (s *TableSink) observe(ctx context.Context, name string) (sink.Observed, error) {
	o := sink.Observed{Kind: Kind, Name: name}
	project, dataset, table, err := ParseTableID(name)
	if err != nil {
		o.Err = err
		return o, nil
	}
	md, err := s.c.table(project, dataset, table).Metadata(ctx)
	var gerr *googleapi.Error
	switch {
	case err == nil:
	case isStatus(err, http.StatusNotFound):
		return o, nil
	case errors.As(err, &gerr):
		o.Err = fmt.Errorf("bigquery: read table %s: %w", name, err)
		return o, nil
	default:
		return o, fmt.Errorf("bigquery: read table %s: %w", name, err)
	}
	live := fromMetadata(md)
	live.Spec.Project, live.Spec.Dataset, live.Spec.Table = project, dataset, table
	o.Exists, o.Spec, o.Managed = true, live, md.Labels[LabelManaged] == "true"
	return o, nil
}

// Facts are the describe facts (see Facts) of an observed table, nil when it does not exist:
// sink.FactSource, so apply records them in state.
func (s *TableSink) Facts(o sink.Observed) map[string]string {
	if !o.Exists {
		return nil
	}
	live, err := liveTable(o.Spec)
	if err != nil || live.Spec.Project == "" {
		return nil
	}
	loc := live.Location
	if loc == "" {
		loc = s.c.location
	}
	return Facts(live.Spec, loc)
}

// toMetadata is the tables.insert body of a spec.
func toMetadata(s TableSpec) *bq.TableMetadata {
	md := &bq.TableMetadata{
		Schema:      toSchema(s.Schema),
		Description: s.Description,
		Labels:      maps.Clone(s.Labels),
	}
	if s.Partition.Field != "" {
		md.TimePartitioning = &bq.TimePartitioning{Type: bq.TimePartitioningType(s.Partition.Type), Field: s.Partition.Field}
	}
	if len(s.Clustering) > 0 {
		md.Clustering = &bq.Clustering{Fields: slices.Clone(s.Clustering)}
	}
	return md
}

// fromMetadata is the live shape of a table (its id is filled in by the caller).
func fromMetadata(md *bq.TableMetadata) LiveTable {
	spec := TableSpec{Schema: fromSchema(md.Schema), Description: md.Description, Labels: maps.Clone(md.Labels)}
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	if tp := md.TimePartitioning; tp != nil {
		spec.Partition = Partition{Field: tp.Field, Type: strings.ToUpper(string(tp.Type))}
		if spec.Partition.Type == "" {
			spec.Partition.Type = PartitionDay // the API's default
		}
		if spec.Partition.Field == "" {
			spec.Partition.Field = "_PARTITIONTIME" // ingestion-time partitioning
		}
	} else if rp := md.RangePartitioning; rp != nil {
		spec.Partition = Partition{Field: rp.Field, Type: "RANGE"}
	}
	if md.Clustering != nil && len(md.Clustering.Fields) > 0 {
		spec.Clustering = slices.Clone(md.Clustering.Fields)
	}
	return LiveTable{Spec: spec, ETag: md.ETag, Location: md.Location}
}

func toSchema(fs []typemap.BQField) bq.Schema {
	out := make(bq.Schema, 0, len(fs))
	for _, f := range fs {
		m := mode(f)
		out = append(out, &bq.FieldSchema{
			Name:        f.Name,
			Type:        bq.FieldType(typemap.CanonicalBQType(f.Type)),
			Required:    m == typemap.BQRequired,
			Repeated:    m == typemap.BQRepeated,
			Description: f.Description,
			Schema:      toSchema(f.Fields),
		})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func fromSchema(s bq.Schema) []typemap.BQField {
	if len(s) == 0 {
		return nil
	}
	out := make([]typemap.BQField, 0, len(s))
	for _, f := range s {
		m := typemap.BQNullable
		switch {
		case f.Repeated:
			m = typemap.BQRepeated
		case f.Required:
			m = typemap.BQRequired
		}
		out = append(out, typemap.BQField{
			Name: f.Name, Type: typemap.CanonicalBQType(string(f.Type)), Mode: m,
			Description: f.Description, Fields: fromSchema(f.Schema),
		})
	}
	return out
}
