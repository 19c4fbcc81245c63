package lint_test

import (
	"testing"
)

// TestConsumerGood: the SPEC's own consumer, on an event with the fields it names and an example,
// lints clean (its template parses, names only fields the event has, and renders the example).
func TestConsumerGood(t *testing.T) {
	const ev = `name: onboarding_step_completed
domain: identity
owner: {team: growth, pod: feed}
description: A user finished an onboarding step.
stage: prod
schema:
  fields:
    - {name: step, type: enum, values: [KYC, PROFILE], number: 1}
    - {name: attempts, type: int64, number: 2}
    - {name: tags, type: string, mode: repeated, number: 3}
    - {name: user_id, type: string, number: 4}
examples:
  - {event_id: e1, event_time: "2026-11-01T10:00:00Z", user_id: u1, step: KYC, attempts: 2, tags: [a, b]}
`
	const c = `name: crm_nudges
owner: {team: growth}
description: Reminds users who stopped at a KYC step.
events: [identity/onboarding_step_completed]
where: {step: KYC, attempts: 2}
transform: |
  {"user": {{json .user_id}}, "step": {{json .step}}, "id": {{json uuid}}, "sent_at": {{json now}},
   "ms": {{toUnixMillis .event_time}}, "n": {{.attempts}}, "tags": [{{range $i, $t := .tags}}{{if $i}},{{end}}{{json (upper $t)}}{{end}}]}
deliver:
  http: {url_env: CRM_WEBHOOK_URL, method: POST, timeout: 5s, max_rps: 200, headers: {X-Source: evctl}}
retry: {max_attempts: 8, backoff: 1s, max_backoff: 5m}
`
	dir := writeRepo(t, map[string]string{
		"contracts/identity/onboarding_step_completed.yaml": ev,
		"consumers/crm_nudges.yaml":                         c,
	})
	if ds := checkRepo(t, dir); len(ds) > 0 {
		t.Fatalf("want no findings, got %v", findings(ds))
	}
}
