package delta_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// value builds record i of message md: every field set on even records, only the required
// ones (and implicit-presence defaults) on odd ones.
func value(t testing.TB, md protoreflect.MessageDescriptor, i int) []byte {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	set := func(name string, v protoreflect.Value) {
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			t.Fatalf("no field %s", name)
		}
		m.Set(fd, v)
	}
	sub := func(name string) *dynamicpb.Message {
		return dynamicpb.NewMessage(md.Fields().ByName(protoreflect.Name(name)).Message())
	}
	at := time.Date(2026, 11, 1+i%3, 10, 0, 0, 123456000, time.UTC).Add(time.Duration(i) * time.Second)
	ts := sub("event_time")
	ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(at.Unix()))
	ts.Set(ts.Descriptor().Fields().ByName("nanos"), protoreflect.ValueOfInt32(int32(at.Nanosecond())))
	set("event_id", protoreflect.ValueOfString(fmt.Sprintf("e%06d", i)))
	set("event_time", protoreflect.ValueOfMessage(ts))
	if i%2 == 1 {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	set("s", protoreflect.ValueOfString(fmt.Sprintf("héllo %d", i)))
	set("b", protoreflect.ValueOfBool(true))
	set("i32", protoreflect.ValueOfInt32(-int32(i)))
	set("i64", protoreflect.ValueOfInt64(-1<<40-int64(i)))
	set("u32", protoreflect.ValueOfUint32(4294967295))
	set("u64", protoreflect.ValueOfUint64(18446744073709551615))
	set("f", protoreflect.ValueOfFloat32(1.5))
	set("d", protoreflect.ValueOfFloat64(-2.25))
	set("by", protoreflect.ValueOfBytes([]byte{0, 1, 2, 255}))
	day := sub("day")
	day.Set(day.Descriptor().Fields().ByName("year"), protoreflect.ValueOfInt32(2024))
	day.Set(day.Descriptor().Fields().ByName("month"), protoreflect.ValueOfInt32(2))
	day.Set(day.Descriptor().Fields().ByName("day"), protoreflect.ValueOfInt32(29))
	set("day", protoreflect.ValueOfMessage(day))
	set("e", protoreflect.ValueOfEnum(2))
	tags := m.Mutable(md.Fields().ByName("tags")).List()
	tags.Append(protoreflect.ValueOfString("x"))
	tags.Append(protoreflect.ValueOfString("y"))
	counts := m.Mutable(md.Fields().ByName("counts")).Map()
	counts.Set(protoreflect.ValueOfString("a").MapKey(), protoreflect.ValueOfInt64(1))
	dev := sub("device")
	dev.Set(dev.Descriptor().Fields().ByName("model"), protoreflect.ValueOfString("pixel"))
	dev.Set(dev.Descriptor().Fields().ByName("year"), protoreflect.ValueOfInt32(2023))
	set("device", protoreflect.ValueOfMessage(dev))
	devs := m.Mutable(md.Fields().ByName("devices")).List()
	d2 := sub("devices")
	d2.Set(d2.Descriptor().Fields().ByName("model"), protoreflect.ValueOfString("ipad"))
	devs.Append(protoreflect.ValueOfMessage(d2))
	devs.Append(protoreflect.ValueOfMessage(sub("devices")))
	set("s32", protoreflect.ValueOfInt32(-7))
	set("s64", protoreflect.ValueOfInt64(-8))
	set("fx32", protoreflect.ValueOfUint32(9))
	set("fx64", protoreflect.ValueOfUint64(10))
	set("sf32", protoreflect.ValueOfInt32(-11))
	set("sf64", protoreflect.ValueOfInt64(-12))
	w64 := sub("w64")
	w64.Set(w64.Descriptor().Fields().ByName("value"), protoreflect.ValueOfInt64(64))
	set("w64", protoreflect.ValueOfMessage(w64))
	ws := sub("ws")
	ws.Set(ws.Descriptor().Fields().ByName("value"), protoreflect.ValueOfString("wrapped"))
	set("ws", protoreflect.ValueOfMessage(ws))
	js := sub("js")
	fields := js.Mutable(js.Descriptor().Fields().ByName("fields")).Map()
	v := dynamicpb.NewMessage(js.Descriptor().Fields().ByName("fields").MapValue().Message())
	v.Set(v.Descriptor().Fields().ByName("number_value"), protoreflect.ValueOfFloat64(3))
	fields.Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfMessage(v))
	set("js", protoreflect.ValueOfMessage(js))
	dur := sub("dur")
	dur.Set(dur.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(90))
	set("dur", protoreflect.ValueOfMessage(dur))
	nums := m.Mutable(md.Fields().ByName("nums")).List()
	nums.Append(protoreflect.ValueOfInt64(1))
	nums.Append(protoreflect.ValueOfInt64(-2))
	set("platform", protoreflect.ValueOfString("ios"))
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func values(t testing.TB, md protoreflect.MessageDescriptor, from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = value(t, md, from+i)
	}
	return out
}

// TestEveryTypeReadBackByDuckDB writes records with every mapped type through Kafka and the
// worker, and reads them back with DuckDB.
func TestEveryTypeReadBackByDuckDB(t *testing.T) {
	f := newFixture(t, 3, "event_date")
	f.produce(t, f.sha, values(t, f.md, 0, 40))
	const group = "evctl.local.ingest.delta"
	start(t, f.spec(group))
	waitFor(t, "the table to hold every record", func() bool { return f.caughtUp(t, group) })
	rows := f.duck(t, "SELECT * FROM t WHERE event_id IN ('e000000', 'e000001') ORDER BY event_id")
	// DuckDB's JSON rendering of each column, as fmt prints it.
	want := []map[string]string{{
		"b": "true", "by": "\\x00\\x01\\x02\\xFF", "counts": "[map[key:a value:1]]", "d": "-2.25", "day": "2024-02-29",
		"device": "map[model:pixel year:2023]", "devices": "[map[model:ipad year:<nil>] map[model:<nil> year:<nil>]]",
		"dur": "map[nanos:0 seconds:90]", "e": "B", "event_date": "2026-11-01", "event_id": "e000000",
		"event_time": "2026-11-01 10:00:00.123456+00", "f": "1.5", "fx32": "9", "fx64": "10", "i32": "0",
		"i64": "-1099511627776", "js": `{"k":3}`, "nums": "[1 -2]", "platform": "ios", "s": "héllo 0", "s32": "-7",
		"s64": "-8", "sf32": "-11", "sf64": "-12", "tags": "[x y]", "u32": "4294967295", "u64": "18446744073709551615",
		"w64": "64", "ws": "wrapped",
	}, {
		// Optional fields absent: null. Implicit-presence scalars (proto3 without optional):
		// their default. Repeated and map fields: empty, never null.
		"b": "<nil>", "by": "<nil>", "counts": "[]", "d": "<nil>", "day": "<nil>", "device": "<nil>", "devices": "[]",
		"dur": "<nil>", "e": "<nil>", "event_date": "2026-11-02", "event_id": "e000001", "event_time": "2026-11-02 10:00:01.123456+00",
		"f": "<nil>", "fx32": "0", "fx64": "0", "i32": "<nil>", "i64": "<nil>", "js": "<nil>", "nums": "[]", "platform": "<nil>",
		"s": "<nil>", "s32": "0", "s64": "0", "sf32": "0", "sf64": "0", "tags": "[]", "u32": "<nil>", "u64": "<nil>",
		"w64": "<nil>", "ws": "<nil>",
	}}
	if len(rows) != len(want) {
		t.Fatalf("DuckDB read %d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		if len(rows[i]) != len(w) {
			t.Errorf("row %d has %d columns, want %d: %v", i, len(rows[i]), len(w), rows[i])
		}
		for col, v := range w {
			if got := fmt.Sprint(rows[i][col]); got != v {
				t.Errorf("row %d column %s = %s, want %s", i, col, got, v)
			}
		}
	}
	agg := f.duck(t, "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, min(i32) AS lo FROM t")
	if got := fmt.Sprint(agg[0]["n"], " ", agg[0]["ids"], " ", agg[0]["lo"]); got != "40 40 -38" {
		t.Errorf("count, distinct ids, min(i32) = %s, want 40 40 -38", got)
	}
	checkStats(t, f, 40)
}

// checkStats reads the add actions of the log (plain JSON, not evctl's reader) and checks
// that their numRecords add up and that every file has min/max for event_id.
func checkStats(t *testing.T, f *fixture, want int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(f.lakeDir, f.location, "_delta_log", "*.json"))
	total := 0
	stats, maxes, nulls := map[string]map[string]any{}, map[string]map[string]any{}, map[string]map[string]float64{}
	var removed []string
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var a struct {
				Add *struct {
					Path            string            `json:"path"`
					PartitionValues map[string]string `json:"partitionValues"`
					Stats           string            `json:"stats"`
				} `json:"add"`
				Remove *struct {
					Path string `json:"path"`
				} `json:"remove"`
			}
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				t.Fatal(err)
			}
			if a.Remove != nil {
				removed = append(removed, a.Remove.Path)
			}
			if a.Add == nil {
				continue
			}
			var st struct {
				NumRecords int                `json:"numRecords"`
				MinValues  map[string]any     `json:"minValues"`
				MaxValues  map[string]any     `json:"maxValues"`
				NullCount  map[string]float64 `json:"nullCount"`
			}
			if err := json.Unmarshal([]byte(a.Add.Stats), &st); err != nil {
				t.Fatalf("%s: stats %q: %v", a.Add.Path, a.Add.Stats, err)
			}
			if st.MinValues["event_id"] == nil || st.MaxValues["event_id"] == nil || st.MinValues["event_time"] == nil {
				t.Errorf("%s: stats lack event_id/event_time min/max: %s", a.Add.Path, a.Add.Stats)
			}
			if !strings.HasPrefix(a.Add.Path, "event_date="+a.Add.PartitionValues["event_date"]+"/") {
				t.Errorf("%s is not under its partition %v", a.Add.Path, a.Add.PartitionValues)
			}
			total += st.NumRecords
			stats[a.Add.Path] = st.MinValues
			maxes[a.Add.Path] = st.MaxValues
			nulls[a.Add.Path] = st.NullCount
		}
	}
	if total != want {
		t.Errorf("numRecords of all add actions = %d, want %d", total, want)
	}
	for _, p := range removed {
		delete(stats, p)
	}
	// Every live file's min/max/nullCount agree with what DuckDB computes from the file itself.
	rows := f.duck(t, `SELECT filename, count(*) AS n, min(i64) AS lo_i64, max(i64) AS hi_i64, count(*) - count(i64) AS null_i64,
		min(i32) AS lo_i32, max(i32) AS hi_i32, min(d) AS lo_d, max(d) AS hi_d, min(s) AS lo_s, max(s) AS hi_s, count(*) - count(s) AS null_s,
		min(event_id) AS lo_event_id, max(event_id) AS hi_event_id FROM tf GROUP BY filename`)
	if len(rows) != len(stats) {
		t.Fatalf("DuckDB read %d files, the log adds %d", len(rows), len(stats))
	}
	for _, r := range rows {
		name, _ := r["filename"].(string)
		rel, err := filepath.Rel(filepath.Join(f.lakeDir, f.location), name)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi, nc := stats[rel], maxes[rel], nulls[rel]
		if lo == nil {
			t.Fatalf("file %s has no stats (have %v)", rel, stats)
		}
		for _, col := range []string{"i64", "i32", "d", "s", "event_id"} {
			if got, want := statText(lo[col]), statText(r["lo_"+col]); r["lo_"+col] != nil && got != want {
				t.Errorf("%s: minValues.%s = %s, DuckDB min = %s", rel, col, got, want)
			}
			if got, want := statText(hi[col]), statText(r["hi_"+col]); r["hi_"+col] != nil && got != want {
				t.Errorf("%s: maxValues.%s = %s, DuckDB max = %s", rel, col, got, want)
			}
		}
		for _, col := range []string{"i64", "s"} {
			if got, want := fmt.Sprint(nc[col]), fmt.Sprint(r["null_"+col]); got != want {
				t.Errorf("%s: nullCount.%s = %s, DuckDB = %s", rel, col, got, want)
			}
		}
	}
}

// statText renders a statistic for comparison: numbers (JSON floats, DuckDB's bigint strings)
// by value, anything else as printed.
func statText(v any) string {
	if f, err := strconv.ParseFloat(fmt.Sprint(v), 64); err == nil {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}
