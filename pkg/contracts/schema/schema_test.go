package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// compile returns the compiled schema of kind, failing the test when it is not a valid
// draft 2020-12 schema.
func compile(t *testing.T, kind string) *jsonschema.Schema {
	t.Helper()
	b, err := For(kind)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	url := kind + ".json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	return s
}

// instance decodes YAML the way an editor's YAML language server sees it: as JSON values.
func instance(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func validate(t *testing.T, s *jsonschema.Schema, src string) error {
	t.Helper()
	return s.Validate(instance(t, []byte(src)))
}

func TestRepoFilesValidate(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	proj := compile(t, "evctl-yaml")
	b, err := os.ReadFile(filepath.Join(root, "evctl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := proj.Validate(instance(t, b)); err != nil {
		t.Errorf("evctl.yaml: %v", err)
	}
	ev := compile(t, "event")
	n := 0
	err = filepath.WalkDir(filepath.Join(root, "contracts"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if err := ev.Validate(instance(t, b)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("validated %d contracts, want the repository's (16)", n)
	}
}

// The consumer of SPEC-dataplane 11, as written there.
const specConsumer = `name: crm_nudges
owner: {team: growth}
description: Reminds users who stopped at a KYC step.
events: [identity/onboarding_step_completed]
where: {step: KYC}
transform: |
  {"user": {{json .user_id}}, "step": {{json .step}}, "id": {{json uuid}}, "sent_at": {{json now}}}
deliver:
  http: {url_env: CRM_WEBHOOK_URL, method: POST, timeout: 5s, max_rps: 200, headers: {X-Source: evctl}}
retry: {max_attempts: 8, backoff: 1s, max_backoff: 5m}
`

func TestConsumerSpecExample(t *testing.T) {
	s := compile(t, "consumer")
	if err := validate(t, s, specConsumer); err != nil {
		t.Errorf("spec consumer: %v", err)
	}
	kafka := strings.Replace(specConsumer, "  http: {url_env: CRM_WEBHOOK_URL, method: POST, timeout: 5s, max_rps: 200, headers: {X-Source: evctl}}", "  kafka: {topic: crm.nudges}", 1)
	if err := validate(t, s, kafka); err != nil {
		t.Errorf("kafka consumer: %v", err)
	}
}

func TestBadDocumentsFail(t *testing.T) {
	for _, tc := range []struct{ kind, name, doc, want string }{
		{"evctl-yaml", "unknown top key", "version: 1\nenviroments: {}\n", "enviroments"},
		{"evctl-yaml", "unknown env key", "version: 1\nenvironments: {prod: {kafka: {brokers: [a:9092], tsl: {}}}}\n", "tsl"},
		{"evctl-yaml", "brokers not a list", "version: 1\nenvironments: {prod: {kafka: {brokers: a:9092}}}\n", "brokers"},
		{"evctl-yaml", "version a string", "version: one\n", "version"},
		{"evctl-yaml", "no version", "teams: {}\n", "version"},
		{"event", "unknown key", "name: a\nowner: {team: t}\nsinkz: {}\n", "sinkz"},
		{"event", "partitions a string", "name: a\nowner: {team: t}\nsinks: {kafka: {partitions: many}}\n", "partitions"},
		{"event", "nested field unknown key", "name: a\nowner: {team: t}\nschema: {fields: [{name: x, type: record, fields: [{name: y, typo: string}]}]}\n", "typo"},
		{"event", "no owner", "name: a\n", "owner"},
		{"consumer", "two targets", strings.Replace(specConsumer, "deliver:\n", "deliver:\n  kafka: {topic: t}\n", 1), "deliver"},
		{"consumer", "no target", strings.Replace(specConsumer, "  http: {url_env: CRM_WEBHOOK_URL, method: POST, timeout: 5s, max_rps: 200, headers: {X-Source: evctl}}\n", "  {}\n", 1), "deliver"},
		{"consumer", "http without url_env", strings.Replace(specConsumer, "url_env: CRM_WEBHOOK_URL, ", "", 1), "url_env"},
		{"consumer", "events not a list", strings.Replace(specConsumer, "events: [identity/onboarding_step_completed]", "events: identity/onboarding_step_completed", 1), "events"},
	} {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			err := validate(t, compile(t, tc.kind), tc.doc)
			if err == nil {
				t.Fatal("validated")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name %q: %v", tc.want, err)
			}
		})
	}
}

func TestUnknownKind(t *testing.T) {
	if _, err := For("evctl.yml"); err == nil || !strings.Contains(err.Error(), "evctl-yaml") {
		t.Errorf("got %v, want an error listing the kinds", err)
	}
}

func TestDeterministic(t *testing.T) {
	for _, k := range Kinds {
		a, _ := For(k)
		b, _ := For(k)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two runs differ", k)
		}
		var v map[string]any
		if err := json.Unmarshal(a, &v); err != nil || v["$schema"] != Draft {
			t.Errorf("%s: $schema = %v (%v)", k, v["$schema"], err)
		}
	}
}
