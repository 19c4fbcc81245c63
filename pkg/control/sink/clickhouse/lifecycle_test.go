package clickhouse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chtest"
)

const viewedV1 = `syntax = "proto3";
package identity.v1;
import "evctl/options.proto";
import "google/protobuf/timestamp.proto";
message ProfileViewed {
  optional string profile_id = 1;
  optional int64 watch_ms = 2;
  string event_id = 1000 [(evctl.options.v1.required) = true];
  google.protobuf.Timestamp event_time = 1001 [(evctl.options.v1.required) = true];
  optional string user_id = 1005;
}`

// viewedV2 adds a field: an in-place ALTER TABLE ADD COLUMN.
var viewedV2 = strings.Replace(viewedV1, "optional string user_id = 1005;", "optional string user_id = 1005;\n  optional string country = 3;", 1)

func event(stage string, views ...contract.ClickHouseView) *contract.Event {
	return &contract.Event{Name: "profile_viewed", Domain: "identity", Stage: stage, Major: 1,
		Sinks: contract.Sinks{ClickHouse: &contract.ClickHouseSink{OrderBy: []string{"profile_id", "event_time"}, Views: views}}}
}

var daily = contract.ClickHouseView{Name: "profile_views_daily",
	GroupBy: []contract.GroupKey{{Field: "profile_id"}, {Field: "event_time", Bucket: "day"}},
	Measures: contract.Measures{{Name: "views", Func: "count"}, {Name: "viewers", Func: "uniq", Field: "user_id"},
		{Name: "watch_ms", Func: "sum", Field: "watch_ms"}}}

type env struct {
	t     *testing.T
	conn  *clickhouse.Conn
	table *clickhouse.TableSink
	view  *clickhouse.ViewSink
}

func newEnv(t *testing.T) *env {
	srv := chtest.Start(t)
	conn, err := clickhouse.NewConn(srv.URL, "events", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, conn: conn, table: clickhouse.NewTableSink(conn), view: clickhouse.NewViewSink(conn)}
}

// plan observes and diffs ds with the sink of their kind.
func (e *env) plan(ds []sink.Desired) []sink.Change {
	e.t.Helper()
	var out []sink.Change
	for _, s := range []sink.Sink{e.table, e.view} {
		var want []sink.Desired
		for _, d := range ds {
			if d.Kind == s.Kind() {
				want = append(want, d)
			}
		}
		have, err := s.Observe(context.Background(), want)
		if err != nil {
			e.t.Fatal(err)
		}
		cs, err := s.Diff(want, have)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, cs...)
	}
	return out
}

// apply runs every change that is not noop, table first.
func (e *env) apply(cs []sink.Change) {
	e.t.Helper()
	for _, c := range cs {
		if c.Action == sink.Noop {
			continue
		}
		s := sink.Sink(e.table)
		if c.Kind == clickhouse.KindView {
			s = e.view
		}
		if err := s.Apply(context.Background(), c); err != nil {
			e.t.Fatal(err)
		}
	}
}

func actions(cs []sink.Change) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Kind+":"+string(c.Action))
	}
	return strings.Join(out, " ")
}

func desire(t *testing.T, ev *contract.Event, md protoreflect.MessageDescriptor) []sink.Desired {
	t.Helper()
	ts, err := clickhouse.NewTableSpec(ev, md, "events", "identity__profile_viewed_v1")
	if err != nil {
		t.Fatal(err)
	}
	out := []sink.Desired{{Event: ev.ID(), Kind: clickhouse.KindTable, Name: ts.ID(), Stage: ev.Stage, Spec: ts}}
	vs, err := clickhouse.NewViewSpecs(ev, ts)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		out = append(out, sink.Desired{Event: ev.ID(), Kind: clickhouse.KindView, Name: v.ID(), Stage: ev.Stage, Spec: v})
	}
	return out
}

// insert writes n events through the row encoder, as the ingest writer does.
func (e *env) insert(md protoreflect.MessageDescriptor, from, n int) {
	e.t.Helper()
	f, err := e.conn.Features(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	enc, err := typemap.NewCHRowEncoder(md, f)
	if err != nil {
		e.t.Fatal(err)
	}
	var buf bytes.Buffer
	for i := from; i < from+n; i++ {
		m := dynamicpb.NewMessage(md)
		set := func(name string, v protoreflect.Value) { m.Set(md.Fields().ByName(protoreflect.Name(name)), v) }
		set("event_id", protoreflect.ValueOfString(fmt.Sprintf("e%d", i)))
		ts := dynamicpb.NewMessage(md.Fields().ByName("event_time").Message())
		ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(1_793_000_000+int64(i)*3_600))
		set("event_time", protoreflect.ValueOfMessage(ts))
		set("profile_id", protoreflect.ValueOfString(fmt.Sprintf("p%d", i%3)))
		set("user_id", protoreflect.ValueOfString(fmt.Sprintf("u%d", i%5)))
		if i%4 != 0 {
			set("watch_ms", protoreflect.ValueOfInt64(int64(i*10)))
		}
		row, err := enc.AppendRow(nil, m)
		if err != nil {
			e.t.Fatal(err)
		}
		buf.Write(row)
		buf.WriteByte('\n')
	}
	if err := e.conn.Client.Insert(context.Background(), "INSERT INTO events.identity__profile_viewed_v1 FORMAT JSONEachRow", nil, &buf); err != nil {
		e.t.Fatal(err)
	}
}

// checkView compares the view's numbers with a GROUP BY over the base table.
func (e *env) checkView(v clickhouse.ViewSpec, wantRows int) {
	e.t.Helper()
	got := e.rows(v.ReadSQL())
	want := e.rows(`SELECT assumeNotNull(profile_id) AS profile_id, toDate(event_time) AS day, count() AS views, uniq(user_id) AS viewers, sum(watch_ms) AS watch_ms
		FROM events.identity__profile_viewed_v1 GROUP BY profile_id, day ORDER BY profile_id, day`)
	if len(want) != wantRows {
		e.t.Fatalf("base table has %d groups, want %d", len(want), wantRows)
	}
	for i := range got {
		for k := range got[i] {
			if _, ok := want[0][k]; !ok {
				delete(got[i], k) // a measure the base-table query does not compute
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		e.t.Fatalf("view %s:\n got %v\nwant %v", v.Target, got, want)
	}
}

func (e *env) rows(q string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	err := e.conn.Client.Query(context.Background(), q, func(row json.RawMessage) error {
		m := map[string]any{}
		if err := json.Unmarshal(row, &m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func TestTableAndViewLifecycle(t *testing.T) {
	e := newEnv(t)
	md1 := chtest.Message(t, viewedV1, "ProfileViewed")
	ev := event("staging", daily)
	ds := desire(t, ev, md1)

	cs := e.plan(ds)
	if got := actions(cs); got != "clickhouse_table:create clickhouse_view:create" {
		t.Fatalf("first plan: %s", got)
	}
	// Rows stored before the view exists are counted by its backfill.
	e.apply(cs[:1])
	e.insert(md1, 0, 50)
	e.apply(cs[1:])
	if got := actions(e.plan(ds)); got != "clickhouse_table:noop clickhouse_view:noop" {
		t.Fatalf("after apply: %s", got)
	}
	vs := ds[1].Spec.(clickhouse.ViewSpec)
	// Rows stored after it by the materialized view; each exactly once.
	e.insert(md1, 50, 50)
	e.checkView(vs, 3*5) // 3 profiles; 100 hourly events span 5 days

	// A new field: ALTER TABLE ADD COLUMN, nothing else.
	md2 := chtest.Message(t, viewedV2, "ProfileViewed")
	ds2 := desire(t, ev, md2)
	cs = e.plan(ds2)
	if got := actions(cs); got != "clickhouse_table:update clickhouse_view:noop" {
		t.Fatalf("added field: %s", got)
	}
	if d := cs[0].Diff; len(d) != 1 || d[0].Path != "columns.country" || d[0].To != "Nullable(String)" {
		t.Fatalf("added field diff: %+v", d)
	}
	e.apply(cs)
	if got := actions(e.plan(ds2)); got != "clickhouse_table:noop clickhouse_view:noop" {
		t.Fatalf("after add column: %s", got)
	}

	// A changed view: replace in staging, rebuilt from the base table.
	changed := daily
	changed.Measures = append(append(contract.Measures(nil), daily.Measures...), contract.Measure{Name: "first_seen", Func: "min", Field: "event_time"})
	ds3 := desire(t, event("staging", changed), md2)
	cs = e.plan(ds3)
	if got := actions(cs); got != "clickhouse_table:noop clickhouse_view:replace" {
		t.Fatalf("changed view: %s", got)
	}
	e.apply(cs)
	e.checkView(ds3[1].Spec.(clickhouse.ViewSpec), 15)
	first := e.rows("SELECT toString(minMerge(first_seen)) AS m FROM events.identity__profile_viewed_v1__profile_views_daily")
	base := e.rows("SELECT toString(min(event_time)) AS m FROM events.identity__profile_viewed_v1")
	if len(first) != 1 || !reflect.DeepEqual(first, base) {
		t.Fatalf("min(event_time) = %v, base says %v", first, base)
	}

	// The same change in prod is blocked.
	if got := actions(e.plan(desire(t, event("prod", daily), md2))); got != "clickhouse_table:noop clickhouse_view:blocked" {
		t.Fatalf("prod view change: %s", got)
	}

	// Drift: a column added by hand is reported and kept; a type change is replace/blocked.
	if err := e.conn.Client.Exec(context.Background(), "ALTER TABLE events.identity__profile_viewed_v1 ADD COLUMN extra Nullable(String)", nil); err != nil {
		t.Fatal(err)
	}
	cs = e.plan(ds3)
	if cs[0].Action != sink.Update || !strings.Contains(cs[0].Reason, "added outside evctl") {
		t.Fatalf("hand-added column: %s %q", cs[0].Action, cs[0].Reason)
	}
	if err := e.conn.Client.Exec(context.Background(), "ALTER TABLE events.identity__profile_viewed_v1 MODIFY COLUMN watch_ms Nullable(Int32)", nil); err != nil {
		t.Fatal(err)
	}
	if cs = e.plan(ds3); cs[0].Action != sink.Replace {
		t.Fatalf("staging type change: %s", cs[0].Action)
	}
	if cs = e.plan(desire(t, event("prod", changed), md2)); cs[0].Action != sink.Blocked {
		t.Fatalf("prod type change: %s", cs[0].Action)
	}
}

// TestInterruptedViewIsRebuilt: a materialized view whose backfill never finished (apply killed
// between the two) plans as update and is rebuilt, so its numbers still match the base table.
func TestInterruptedViewIsRebuilt(t *testing.T) {
	e := newEnv(t)
	md := chtest.Message(t, viewedV1, "ProfileViewed")
	ds := desire(t, event("prod", daily), md)
	cs := e.plan(ds)
	e.apply(cs[:1])
	e.insert(md, 0, 30)
	vs := ds[1].Spec.(clickhouse.ViewSpec)
	for _, q := range []string{vs.CreateTargetSQL(), vs.CreateMVSQL(1)} {
		if err := e.conn.Client.Exec(context.Background(), q, nil); err != nil {
			t.Fatal(err)
		}
	}
	cs = e.plan(ds)
	if got := actions(cs); got != "clickhouse_table:noop clickhouse_view:update" {
		t.Fatalf("interrupted view: %s", got)
	}
	e.apply(cs)
	e.insert(md, 30, 30)
	e.checkView(vs, 3*3)
	_ = chhttp.Quote
}

// TestEveryMeasureAndBucket: count, sum, min, max and uniq by hour and by minute, each checked
// against a GROUP BY over the base table, with rows before the view (backfill) and after (MV).
// A group whose field is null in every row reads 0 from the view where the base table's
// aggregate says NULL (the view's states are of the non-null type; docs/type-mapping.md).
func TestEveryMeasureAndBucket(t *testing.T) {
	e := newEnv(t)
	md := chtest.Message(t, viewedV1, "ProfileViewed")
	measures := contract.Measures{{Name: "n", Func: "count"}, {Name: "total", Func: "sum", Field: "watch_ms"},
		{Name: "lo", Func: "min", Field: "watch_ms"}, {Name: "hi", Func: "max", Field: "watch_ms"}, {Name: "users", Func: "uniq", Field: "user_id"}}
	hourly := contract.ClickHouseView{Name: "hourly", GroupBy: []contract.GroupKey{{Field: "event_time", Bucket: "hour"}}, Measures: measures}
	minutely := contract.ClickHouseView{Name: "by_minute", GroupBy: []contract.GroupKey{{Field: "profile_id"}, {Field: "event_time", Bucket: "minute"}}, Measures: measures}
	ds := desire(t, event("staging", hourly, minutely), md)
	cs := e.plan(ds)
	e.apply(cs[:1])
	e.insert(md, 0, 40)
	e.apply(cs[1:])
	e.insert(md, 40, 40)
	for i, q := range map[int]string{
		1: `SELECT toStartOfHour(event_time) AS hour, count() AS n, ifNull(sum(watch_ms), 0) AS total, ifNull(min(watch_ms), 0) AS lo, ifNull(max(watch_ms), 0) AS hi, uniq(user_id) AS users
			FROM events.identity__profile_viewed_v1 GROUP BY hour ORDER BY hour`,
		2: `SELECT assumeNotNull(profile_id) AS profile_id, toStartOfMinute(event_time) AS minute, count() AS n, ifNull(sum(watch_ms), 0) AS total, ifNull(min(watch_ms), 0) AS lo, ifNull(max(watch_ms), 0) AS hi, uniq(user_id) AS users
			FROM events.identity__profile_viewed_v1 GROUP BY profile_id, minute ORDER BY profile_id, minute`,
	} {
		v := ds[i].Spec.(clickhouse.ViewSpec)
		got, want := e.rows(v.ReadSQL()), e.rows(q)
		if len(want) != 80 || !reflect.DeepEqual(got, want) {
			t.Errorf("view %s (%d groups):\n got %v\nwant %v", v.Target, len(want), got, want)
		}
	}
}
