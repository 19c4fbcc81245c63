package delta_test

import (
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink/delta"
)

const platform = `
  google.protobuf.Timestamp event_time = 1001 [(evctl.options.v1.required) = true];
`

func TestNewTableSpec(t *testing.T) {
	s := spec(t, "staging", `message M { optional string video_id = 1; int64 region = 2; R device = 3; message R { optional string model = 1; }`+platform+`}`, "event_date", "region")
	if got := strings.Join(s.PartitionColumns, ","); got != "event_date,region" {
		t.Errorf("partition columns %q", got)
	}
	last := s.Schema.Fields[len(s.Schema.Fields)-1]
	if last.Name != "event_date" || last.Type.Primitive != typemap.DeltaDate || last.Nullable {
		t.Errorf("derived column = %+v, want event_date date not null (event_time is required)", last)
	}
	if last.Metadata[typemap.DeltaCommentKey] == "" {
		t.Error("derived column has no comment")
	}

	opt := spec(t, "staging", `message M { google.protobuf.Timestamp event_time = 1; }`, "event_date")
	if f := opt.Schema.Fields[1]; !f.Nullable {
		t.Errorf("event_date from an optional event_time must be nullable: %+v", f)
	}
	// A real event_date field is used as it is, not derived.
	own := spec(t, "staging", `message M { google.type.Date event_date = 1; }`, "event_date")
	if len(own.Schema.Fields) != 1 {
		t.Errorf("own event_date: %d columns, want 1", len(own.Schema.Fields))
	}

	bad := []struct{ body, part, msg string }{
		{`message M { optional string a = 1; }`, "event_date", "event_time"},
		{`message M { optional string a = 1; }`, "b", "not a top-level field"},
		{`message M { R r = 1; message R { optional string x = 1; } }`, "r", "primitive"},
		{`message M { repeated string a = 1; }`, "a", "primitive"},
	}
	for _, b := range bad {
		_, err := delta.NewTableSpec(event, "staging", message(t, b.body), []string{b.part})
		if err == nil || !strings.Contains(err.Error(), b.msg) || !strings.HasPrefix(err.Error(), "delta: ") {
			t.Errorf("partition %q of %s: error %v, want one about %q", b.part, b.body, err, b.msg)
		}
	}
	if _, err := delta.NewTableSpec(event, "staging", message(t, `message M { optional string a = 1; }`), []string{"a", "a"}); err == nil {
		t.Error("duplicate partition column accepted")
	}
}

func TestTableName(t *testing.T) {
	for _, c := range []struct{ base, rel, want string }{
		{"file://.evctl/lake", "feed/x_v1", "file://.evctl/lake/feed/x_v1"},
		{"gs://b/lake/", "/feed/x_v1/", "gs://b/lake/feed/x_v1"},
	} {
		if got := delta.TableName(c.base, c.rel); got != c.want {
			t.Errorf("TableName(%q, %q) = %q, want %q", c.base, c.rel, got, c.want)
		}
	}
}
