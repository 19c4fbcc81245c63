// Package breaking decides whether a change to the contracts breaks producers or consumers of
// prod-stage events. It compiles the current repository and a baseline (a git ref, a
// FileDescriptorSet file, or an environment's descriptor store), hands buf (the CLI, at a pinned
// version) images of only the prod events whose effective contract changed, and turns buf's
// findings into per-event findings: field, position in the contract YAML (or raw .proto), rule
// and a one-line fix hint. It adds evctl's own rules (a field or event demoted from prod to
// staging, a required field added), drops findings that touch only fields that were staging in
// the baseline, and applies the events' reviewed waivers.
//
// It fails closed: when buf is missing or fails, every changed prod event is blocked with the
// reason, never let through. It does not render output and knows nothing of terminals; pkg/cli
// renders a Report, and the plan engine marks the blocked events' resources.
package breaking
