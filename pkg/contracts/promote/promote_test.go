package promote

import (
	"errors"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/contract"
)

const src = `# The video_played event. Keep this comment.
name: video_played
domain: feed
owner: {team: growth, pod: feed}
description: A user started playback of a video.
stage: staging   # until the players ship
major: 1
schema:
  fields:
    # the id
    - {name: video_id, type: string, mode: required, number: 1}
    - {name: experiment, type: string, number: 6, stage: staging}   # trial
    - name: device
      type: record
      number: 5
      stage: "staging"
      fields:
        - {name: model, type: string, number: 1, stage: 'staging'}
        - {name: os, type: string, number: 2}
`

func TestPromoteEvent(t *testing.T) {
	out, changes, err := Promote("e.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(src, "stage: staging   # until", "stage: prod   # until", 1)
	if string(out) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out, want)
	}
	if len(changes) != 1 || changes[0].Path != "stage" || changes[0].Line != 6 || changes[0].Target != "event" {
		t.Fatalf("changes %+v", changes)
	}
	ev, diags := contract.Parse("contracts/feed/video_played.yaml", out)
	if diags.HasErrors() || ev.Stage != contract.StageProd || ev.Schema.Fields[1].Stage != contract.StageStaging {
		t.Fatalf("re-parsed: %+v %v", ev, diags)
	}
	// Promoting again changes nothing.
	again, changes, err := Promote("e.yaml", out, nil)
	if err != nil || len(changes) != 0 || string(again) != string(out) {
		t.Fatalf("second promotion: %v %+v", err, changes)
	}
}

func TestPromoteFields(t *testing.T) {
	prod := strings.Replace(src, "stage: staging   #", "stage: prod   #", 1)
	cases := []struct {
		name    string
		fields  []string
		want    func(string) string
		changes int
		err     string
	}{
		{"flow mapping field", []string{"experiment"}, func(s string) string {
			return strings.Replace(s, "number: 6, stage: staging}", "number: 6, stage: prod}", 1)
		}, 1, ""},
		{"double-quoted block field", []string{"device"}, func(s string) string {
			return strings.Replace(s, `stage: "staging"`, `stage: "prod"`, 1)
		}, 1, ""},
		{"single-quoted nested record field", []string{"device.model"}, func(s string) string {
			return strings.Replace(s, `stage: 'staging'`, `stage: 'prod'`, 1)
		}, 1, ""},
		{"several at once", []string{"experiment", "device.model", "device"}, func(s string) string {
			s = strings.Replace(s, "number: 6, stage: staging}", "number: 6, stage: prod}", 1)
			s = strings.Replace(s, `stage: "staging"`, `stage: "prod"`, 1)
			return strings.Replace(s, `stage: 'staging'`, `stage: 'prod'`, 1)
		}, 3, ""},
		{"field inheriting prod", []string{"video_id", "device.os"}, func(s string) string { return s }, 0, ""},
		{"unknown field", []string{"nope"}, nil, 0, `no field "nope"`},
		{"unknown nested field", []string{"device.nope"}, nil, 0, `no field "device.nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, changes, err := Promote("e.yaml", []byte(prod), tc.fields)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.want(prod); string(out) != want {
				t.Fatalf("got:\n%s\nwant:\n%s", out, want)
			}
			if len(changes) != tc.changes {
				t.Fatalf("changes %+v", changes)
			}
			if !strings.Contains(string(out), "# the id") || !strings.Contains(string(out), "# trial") {
				t.Fatal("comments lost")
			}
		})
	}
}

func TestPromoteRefuses(t *testing.T) {
	if _, _, err := Promote("e.yaml", []byte(src), []string{"experiment"}); !errors.Is(err, ErrStagingEvent) {
		t.Fatalf("fields of a staging event: %v", err)
	}
	if _, _, err := Promote("e.yaml", []byte("name: x\n"), nil); err == nil || !strings.Contains(err.Error(), "no stage") {
		t.Fatalf("no stage: %v", err)
	}
	if _, _, err := Promote("e.yaml", []byte("stage: [\n"), nil); err == nil {
		t.Fatal("bad YAML must be an error")
	}
	if _, _, err := Promote("e.yaml", []byte("stage: beta\n"), nil); err == nil || !strings.Contains(err.Error(), `"beta"`) {
		t.Fatalf("unknown stage: %v", err)
	}
	// A stage written as a block scalar cannot be edited in place safely.
	if _, _, err := Promote("e.yaml", []byte("stage: >-\n  staging\n"), nil); err == nil {
		t.Fatal("block scalar stage must be refused")
	}
}

func TestPromoteUnicodeColumns(t *testing.T) {
	in := "description: \"ünïcödé\"\nowner: {team: t, pod: p}\nschema:\n  fields:\n    - {name: é, description: \"日本語\", type: string, number: 1, stage: staging}\nstage: prod\n"
	out, changes, err := Promote("e.yaml", []byte(in), []string{"é"})
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(in, "stage: staging}", "stage: prod}", 1); string(out) != want || len(changes) != 1 {
		t.Fatalf("got:\n%s", out)
	}
}
