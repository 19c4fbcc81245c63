package consumer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/contracts/consumer"
)

const sample = `name: crm_nudges
owner: {team: growth}
description: Reminds users who stopped at a KYC step.
events: [identity/onboarding_step_completed]
where: {step: KYC}
transform: |
  {"user": {{json .user_id}},
   "step": {{json .step}}}
deliver:
  http: {url_env: CRM_WEBHOOK_URL, method: POST, timeout: 5s, max_rps: 200, headers: {X-Source: evctl}}
retry: {max_attempts: 8, backoff: 1s, max_backoff: 5m}
`

func TestParseSample(t *testing.T) {
	c, diags := consumer.Parse("consumers/crm_nudges.yaml", []byte(sample))
	if len(diags) != 0 {
		t.Fatal(diags)
	}
	if c.Name != "crm_nudges" || c.Owner.Team != "growth" || len(c.Events) != 1 || c.Where["step"] != "KYC" {
		t.Fatalf("%+v", c)
	}
	h := c.Deliver.HTTP
	if h == nil || h.URLEnv != "CRM_WEBHOOK_URL" || h.MaxRPS != 200 || h.Headers["X-Source"] != "evctl" || c.Deliver.Kafka != nil {
		t.Fatalf("%+v", c.Deliver)
	}
	if d, err := h.HTTPTimeout(); err != nil || d != 5*time.Second {
		t.Fatal(d, err)
	}
	if d, err := c.Retry.MaxBackoffDuration(); err != nil || d != 5*time.Minute || c.Retry.Attempts() != 8 {
		t.Fatal(d, err)
	}
	if !strings.HasPrefix(c.Transform, `{"user": {{json .user_id}},`) {
		t.Fatalf("%q", c.Transform)
	}
	// Line 2, column 5 of the template is `"step"` on line 8, column 5 of the file (2 spaces
	// of block indentation + 3 in the text).
	if p := c.TransformPos(2, 4); p.Line != 8 || p.Col != 6 {
		t.Fatalf("TransformPos(2,4) = %v", p)
	}
}

func TestUnknownKeysHavePositions(t *testing.T) {
	src := strings.Replace(sample, "retry:", "retries:", 1)
	src = strings.Replace(src, "max_rps: 200", "max_rps: 200, verb: PUT", 1)
	_, diags := consumer.Parse("consumers/crm_nudges.yaml", []byte(src))
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "consumers/crm_nudges.yaml:11:1") || !strings.Contains(all, "retries") ||
		!strings.Contains(all, "verb") || !strings.Contains(all, "consumers/crm_nudges.yaml:10:") {
		t.Fatalf("want unknown keys retries (11:1) and verb (line 10):\n%s", all)
	}
}

func TestBadDurations(t *testing.T) {
	for _, s := range []string{"soon", "-1s", "0s"} {
		if _, err := (consumer.Retry{Backoff: s}).BackoffDuration(); err == nil {
			t.Errorf("backoff %q accepted", s)
		}
	}
}

func TestLoadAll(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "consumers", "nested"), 0o755))
	must(os.WriteFile(filepath.Join(root, "consumers", "b.yaml"), []byte(sample), 0o644))
	must(os.WriteFile(filepath.Join(root, "consumers", "a.yaml"), []byte("name: a\nowner: {team: x}\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "consumers", "README.md"), []byte("# hi"), 0o644))
	cs, diags := consumer.LoadAll(root)
	if len(cs) != 2 || cs[0].File != "consumers/a.yaml" || cs[1].Name != "crm_nudges" {
		t.Fatalf("%+v", cs)
	}
	if len(diags) != 1 || diags[0].Rule != consumer.RuleLayout {
		t.Fatalf("want one layout finding for the folder: %v", diags)
	}
	if cs, diags := consumer.LoadAll(t.TempDir()); cs != nil || diags != nil {
		t.Fatal(cs, diags)
	}
}

// FuzzParse: Parse never panics and every finding names the file and a line.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(""))
	f.Add([]byte("transform: \"a\\n{{.x\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "consumers/c.yaml"
		c, diags := consumer.Parse(file, data)
		if c == nil && len(diags) == 0 {
			t.Fatal("no consumer and no findings")
		}
		for _, d := range diags {
			if d.File != file || d.Line < 1 || d.Rule == "" {
				t.Fatalf("bad finding %+v", d)
			}
		}
		if c != nil {
			_ = c.TransformPos(3, 2)
		}
	})
}
