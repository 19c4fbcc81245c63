package delta_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/delta"
)

// typeDecls is one field declaration per row of the type mapping (typemap.Rows), named f.
var typeDecls = []string{
	"optional string f = 9;", "optional bool f = 9;", "optional int32 f = 9;", "optional int64 f = 9;",
	"optional uint32 f = 9;", "optional uint64 f = 9;", "optional float f = 9;", "optional double f = 9;",
	"optional bytes f = 9;", "google.protobuf.Timestamp f = 9;", "google.type.Date f = 9;", "optional E f = 9;",
	"R f = 9;", "repeated int64 f = 9;", "repeated R f = 9;", "map<string, int64> f = 9;", "map<uint64, R> f = 9;",
	"optional sint32 f = 9;", "optional sfixed64 f = 9;", "optional fixed32 f = 9;", "optional fixed64 f = 9;",
	"google.protobuf.Int64Value f = 9;", "google.protobuf.UInt64Value f = 9;", "google.protobuf.StringValue f = 9;",
	"google.protobuf.Struct f = 9;", "google.protobuf.Value f = 9;", "oneof o { string f = 9; int64 g = 10; }",
}

const typeDefs = `
enum E { E_UNSPECIFIED = 0; A = 1; }
message R { optional int64 x = 1; R2 deep = 2; }
message R2 { optional string y = 1; }
`

// TestEveryTypeCreateAndEvolve takes every mapped type through create (a table holding it
// from the start) and through evolve (added later, top-level and nested in a struct), and
// checks the re-read schema is exactly typemap's.
func TestEveryTypeCreateAndEvolve(t *testing.T) {
	store := fileStore(t)
	for i, decl := range typeDecls {
		t.Run(decl, func(t *testing.T) {
			s := newSink(store)
			name := delta.TableName(base, fmt.Sprintf("types/t%d", i))
			d := func(body string) sink.Desired {
				sp := spec(t, "staging", typeDefs+body)
				return sink.Desired{Event: event, Kind: delta.Kind, Name: name, Stage: "staging", Spec: sp}
			}
			check := func(d sink.Desired) {
				t.Helper()
				obs, err := s.Observe(t.Context(), []sink.Desired{d})
				if err != nil || obs[0].Err != nil {
					t.Fatalf("observe: %v %v", err, obs[0].Err)
				}
				got := obs[0].Spec.(delta.Live).Schema
				if diff := cmp.Diff(d.Spec.(delta.TableSpec).Schema, got); diff != "" {
					t.Errorf("live schema (-typemap +live):\n%s", diff)
				}
			}
			step := func(d sink.Desired, want sink.Action) {
				t.Helper()
				chs := mustPlan(t, s, d)
				if chs.Action != want {
					t.Fatalf("action %s (%s), want %s", chs.Action, chs.Reason, want)
				}
				if err := s.Apply(t.Context(), chs); err != nil {
					t.Fatal(err)
				}
				check(d)
			}
			// Through create.
			created := d(`message M { optional string id = 1; ` + decl + ` }`)
			step(created, sink.Create)

			// Through evolve, top-level then nested, on a second table.
			name = delta.TableName(base, fmt.Sprintf("types/e%d", i))
			step(d(`message M { optional string id = 1; N n = 2; message N { optional string a = 1; } }`), sink.Create)
			step(d(`message M { optional string id = 1; N n = 2; message N { optional string a = 1; } `+decl+` }`), sink.Update)
			step(d(`message M { optional string id = 1; N n = 2; message N { optional string a = 1; `+decl+` } `+decl+` }`), sink.Update)
		})
	}
}

func mustPlan(t *testing.T, s *delta.Sink, d sink.Desired) sink.Change {
	t.Helper()
	return plan(t, s, d)
}
