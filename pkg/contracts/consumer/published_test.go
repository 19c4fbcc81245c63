package consumer_test

import (
	"reflect"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// TestDefinitionRoundTrip: a consumer published for an environment and read back is the same
// consumer (without source positions) at the same placement, and its stored form decodes.
func TestDefinitionRoundTrip(t *testing.T) {
	src := `name: crm_nudges
owner: {team: growth}
description: Reminds users.
events: [identity/onboarding_step_completed, identity/signup_completed]
where: {step: KYC}
transform: |
  {"user": {{json .user_id}}}
deliver:
  http: {url_env: CRM_URL, method: put, timeout: 5s, max_rps: 200, headers: {X-Source: evctl}}
retry: {max_attempts: 8, backoff: 1s, max_backoff: 5m}
`
	c, ds := consumer.Parse("consumers/crm_nudges.yaml", []byte(src))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	at := consumer.Placement{Topics: map[string]string{"identity/onboarding_step_completed": "prod.identity.onboarding_step_completed.v1"},
		Group: consumer.Group("prod", c.Name), DLQ: consumer.DLQTopic("prod", c.Name)}
	d := c.Definition(at)
	if d.Group != "evctl.prod.consumer.crm_nudges" || d.DLQ != "prod.consumers.crm_nudges.dlq" || d.Team != "growth" {
		t.Fatalf("definition %+v", d)
	}
	b, _, err := descstore.EncodeConsumerDef(d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := descstore.DecodeConsumerDef(b)
	if err != nil {
		t.Fatal(err)
	}
	got, gotAt := consumer.FromDefinition(back)
	want := *c
	want.Doc = nil
	if !reflect.DeepEqual(gotAt, at) {
		t.Fatalf("placement %+v, want %+v", gotAt, at)
	}
	if got.Name != want.Name || got.Owner != want.Owner || got.Transform != want.Transform || got.File != want.File ||
		!reflect.DeepEqual(got.Events, want.Events) || !reflect.DeepEqual(got.Where, want.Where) ||
		!reflect.DeepEqual(got.Deliver, want.Deliver) || got.Retry != want.Retry || got.Description != want.Description {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, want)
	}
	if got.Deliver.HTTP.MethodOrDefault() != "PUT" {
		t.Fatalf("method %q", got.Deliver.HTTP.MethodOrDefault())
	}
	kc := &consumer.Consumer{Name: "audit", Owner: consumer.Owner{Team: "growth"}, Events: []string{"a/b"}, Transform: "x",
		Deliver: consumer.Deliver{Kafka: &consumer.Kafka{Topic: "growth.audit"}}}
	if _, kat := consumer.FromDefinition(kc.Definition(consumer.Placement{KafkaTopic: "growth.audit"})); kat.KafkaTopic != "growth.audit" {
		t.Fatalf("kafka placement %+v", kat)
	}
}
