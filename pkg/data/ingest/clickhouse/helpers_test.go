package clickhouse_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink"
	chsink "github.com/evctl/evctl/pkg/control/sink/clickhouse"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chtest"
)

const viewedProto = `syntax = "proto3";
package identity.v1;
import "evctl/options.proto";
import "google/protobuf/timestamp.proto";
message ProfileViewed {
  optional string profile_id = 1;
  optional int64 watch_ms = 2;
  optional string pad = 3;
  string event_id = 1000 [(evctl.options.v1.required) = true];
  google.protobuf.Timestamp event_time = 1001 [(evctl.options.v1.required) = true];
  optional string user_id = 1005;
}`

const table = "identity__profile_viewed_v1"

// provision creates the base table and a daily view through the sink, as apply does.
func provision(t testing.TB, url string, md protoreflect.MessageDescriptor) chsink.ViewSpec {
	t.Helper()
	ev := &contract.Event{Name: "profile_viewed", Domain: "identity", Stage: "staging", Major: 1,
		Sinks: contract.Sinks{ClickHouse: &contract.ClickHouseSink{OrderBy: []string{"profile_id", "event_time"},
			Views: []contract.ClickHouseView{{Name: "daily",
				GroupBy:  []contract.GroupKey{{Field: "profile_id"}, {Field: "event_time", Bucket: "day"}},
				Measures: contract.Measures{{Name: "views", Func: "count"}, {Name: "viewers", Func: "uniq", Field: "user_id"}}}}}}}
	conn, err := chsink.NewConn(url, "events", "", "")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := chsink.NewTableSpec(ev, md, "events", table)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := chsink.NewViewSpecs(ev, ts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := conn.Features(ctx); err != nil {
		t.Fatal(err)
	}
	td := sink.Desired{Event: ev.ID(), Kind: chsink.KindTable, Name: ts.ID(), Stage: "staging", Spec: ts}
	if err := chsink.NewTableSink(conn).Apply(ctx, sink.Change{Kind: chsink.KindTable, Name: ts.ID(), Action: sink.Create, Desired: &td}); err != nil {
		t.Fatal(err)
	}
	vd := sink.Desired{Event: ev.ID(), Kind: chsink.KindView, Name: vs[0].ID(), Stage: "staging", Spec: vs[0]}
	if err := chsink.NewViewSink(conn).Apply(ctx, sink.Change{Kind: chsink.KindView, Name: vs[0].ID(), Action: sink.Create, Desired: &vd}); err != nil {
		t.Fatal(err)
	}
	return vs[0]
}

// event is the record at offset o: its event_id names the offset, its time spans two months
// every 1,000 offsets so batches split into two month parts.
func event(md protoreflect.MessageDescriptor, o int64, pad string) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	set := func(name string, v protoreflect.Value) { m.Set(md.Fields().ByName(protoreflect.Name(name)), v) }
	set("event_id", protoreflect.ValueOfString(fmt.Sprintf("e%d", o)))
	ts := dynamicpb.NewMessage(md.Fields().ByName("event_time").Message())
	// 2026-10-31 00:00 UTC plus two minutes per offset, wrapping every 1,000: half October, half November.
	ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(1_793_404_800+(o%1000)*120))
	set("event_time", protoreflect.ValueOfMessage(ts))
	set("profile_id", protoreflect.ValueOfString(fmt.Sprintf("p%d", o%7)))
	set("user_id", protoreflect.ValueOfString(fmt.Sprintf("u%d", o%11)))
	set("watch_ms", protoreflect.ValueOfInt64(o))
	if pad != "" {
		set("pad", protoreflect.ValueOfString(pad))
	}
	return m
}

func count(t testing.TB, c *chhttp.Client, q string) int64 {
	t.Helper()
	rows, err := chhttp.QueryInto[map[string]any](context.Background(), c, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%s: %d rows", q, len(rows))
	}
	for _, v := range rows[0] {
		var n int64
		fmt.Sscan(fmt.Sprint(v), &n)
		return n
	}
	return 0
}

func viewedMessage() protoreflect.MessageDescriptor {
	md, err := chtest.CompileMessage(viewedProto, "ProfileViewed")
	if err != nil {
		panic(err) // the proto is a constant of this file
	}
	return md
}

func timeNow() time.Time { return time.Now() }
