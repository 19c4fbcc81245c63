package bigquery_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink/bigquery"
)

func TestNewTableSpec(t *testing.T) {
	md := everything(t)
	s := spec(t, md, "everything_v1", "staging")
	mapped, err := typemap.BigQuery(md)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mapped, s.Schema); diff != "" {
		t.Errorf("schema is not typemap.BigQuery's (-want +got):\n%s", diff)
	}
	if s.ID() != "test.events.everything_v1" {
		t.Errorf("ID = %q", s.ID())
	}
	wantLabels := map[string]string{"evctl-event": "test-everything_v1", "evctl-owner-team": "growth",
		"evctl-stage": "staging", "evctl-managed": "true"}
	if diff := cmp.Diff(wantLabels, s.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if s.Partition != (bigquery.Partition{Field: "event_time", Type: "DAY"}) {
		t.Errorf("partition = %+v, want DAY on event_time by default", s.Partition)
	}
	if diff := cmp.Diff([]string{"old_name"}, s.Removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
}

func TestNewTableSpecRejects(t *testing.T) {
	md := everything(t)
	tests := []struct {
		name string
		opts bigquery.TableOptions
		want string
	}{
		{"partition on a string", bigquery.TableOptions{PartitionBy: "user_id"}, `partition_by "user_id"`},
		{"partition on a nested column", bigquery.TableOptions{PartitionBy: "device.model"}, `partition_by "device.model"`},
		{"partition on a repeated timestamp", bigquery.TableOptions{PartitionBy: "r_at"}, `partition_by "r_at"`},
		{"unknown partition type", bigquery.TableOptions{PartitionBy: "event_time", PartitionType: "WEEK"}, `partition_type "WEEK"`},
		{"partition type alone", bigquery.TableOptions{PartitionType: "DAY"}, "without partition_by"},
		{"cluster on a record", bigquery.TableOptions{ClusterBy: []string{"device"}}, `cluster_by "device"`},
		{"cluster on a missing column", bigquery.TableOptions{ClusterBy: []string{"nope"}}, `cluster_by "nope"`},
		{"cluster on five columns", bigquery.TableOptions{ClusterBy: []string{"user_id", "event_id", "f_int64", "f_bool", "color"}}, "allows 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bigquery.NewTableSpec(md, "p", "d", "t", tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "bigquery: ") {
				t.Errorf("err = %v, want a bigquery: error containing %q", err, tt.want)
			}
		})
	}
	if _, err := bigquery.NewTableSpec(md, "", "d", "t", bigquery.TableOptions{}); err == nil {
		t.Error("empty project: no error")
	}
	s, err := bigquery.NewTableSpec(md, "p", "d", "t", bigquery.TableOptions{PartitionBy: "day", PartitionType: "month"})
	if err != nil || s.Partition != (bigquery.Partition{Field: "day", Type: "MONTH"}) {
		t.Errorf("MONTH on a DATE column: %+v, %v", s.Partition, err)
	}
}

func TestLabelValue(t *testing.T) {
	for in, want := range map[string]string{
		"feed/video_played":     "feed-video_played",
		"Growth Team":           "growth-team",
		"prod":                  "prod",
		strings.Repeat("a", 70): strings.Repeat("a", 63),
	} {
		if got := bigquery.LabelValue(in); got != want {
			t.Errorf("LabelValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseTableID(t *testing.T) {
	p, d, tb, err := bigquery.ParseTableID("example.com:proj.events.feed__x_v1")
	if err != nil || p != "example.com:proj" || d != "events" || tb != "feed__x_v1" {
		t.Errorf("got %q %q %q %v", p, d, tb, err)
	}
	for _, bad := range []string{"", "a.b", "a..c", ".b.c", "a.b."} {
		if _, _, _, err := bigquery.ParseTableID(bad); err == nil {
			t.Errorf("ParseTableID(%q): no error", bad)
		}
	}
}

func TestSchemaHashAndFacts(t *testing.T) {
	a := []typemap.BQField{{Name: "n", Type: "INT64", Mode: "NULLABLE"}}
	b := []typemap.BQField{{Name: "n", Type: "INTEGER"}}
	if bigquery.SchemaHash(a) != bigquery.SchemaHash(b) {
		t.Error("INT64 NULLABLE and INTEGER (no mode) hash differently")
	}
	c := []typemap.BQField{{Name: "n", Type: "STRING"}}
	if bigquery.SchemaHash(a) == bigquery.SchemaHash(c) {
		t.Error("different types hash alike")
	}
	s := baseSpec()
	got := bigquery.Facts(s, "EU")
	want := map[string]string{"table_id": "p.d.t", "location": "EU", "schema_hash": bigquery.SchemaHash(s.Schema)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
}
