package backstage

import (
	"fmt"
	"regexp"
	"strings"
)

// validate checks one decoded entity against the constraints Backstage's catalog model
// enforces, reimplemented here (their files are not vendored). Sources, in backstage/backstage:
//
//   - packages/catalog-model/src/schema/Entity.schema.json: apiVersion, kind, metadata required,
//     non-empty strings; no top-level keys but apiVersion, kind, metadata, spec, relations, status.
//   - packages/catalog-model/src/schema/EntityEnvelope.schema.json and EntityMeta.schema.json:
//     metadata.name required, non-empty; namespace non-empty; labels and annotations map to
//     strings; tags are non-empty strings; description a string.
//   - packages/catalog-model/src/schema/kinds/API.v1alpha1.schema.json: spec required with
//     type, lifecycle, owner, definition (non-empty strings), system optional non-empty string.
//   - kinds/Component.v1alpha1.schema.json: spec required with type, lifecycle, owner (non-empty
//     strings); system optional non-empty; providesApis, consumesApis arrays of non-empty strings.
//   - kinds/Group.v1alpha1.schema.json: spec.type non-empty, spec.children an array (may be empty)
//     of non-empty strings.
//   - kinds/System.v1alpha1.schema.json: spec.owner a non-empty string.
//   - kinds/Location.v1alpha1.schema.json: spec.type, spec.target non-empty strings, spec.targets
//     an array of non-empty strings, all optional.
//   - every kind: apiVersion is backstage.io/v1alpha1 or backstage.io/v1beta1.
//   - packages/catalog-model/src/validation/{makeValidator,KubernetesValidatorFunctions,
//     CommonValidatorFunctions}.ts: names are 1-63 of ^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$;
//     namespaces and tags are DNS labels (1-63 of ^[a-z0-9]+(\-[a-z0-9]+)*$); kinds match
//     ^[a-zA-Z][a-z0-9A-Z]*$; label and annotation keys are [dns-subdomain/]name; label values
//     are "" or a name.
func validate(e map[string]any) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for k := range e {
		switch k {
		case "apiVersion", "kind", "metadata", "spec", "relations", "status":
		default:
			fail("unknown top-level key %q (Entity.schema.json additionalProperties: false)", k)
		}
	}
	apiVersion, _ := e["apiVersion"].(string)
	if apiVersion != "backstage.io/v1alpha1" && apiVersion != "backstage.io/v1beta1" {
		fail("apiVersion %q is not backstage.io/v1alpha1 or v1beta1", apiVersion)
	}
	kind, _ := e["kind"].(string)
	if !reKind.MatchString(kind) || len(kind) > 63 {
		fail("kind %q is not a valid kind", kind)
	}
	md, ok := e["metadata"].(map[string]any)
	if !ok {
		fail("metadata is required and must be an object")
		return errs
	}
	if name, _ := md["name"].(string); !validName(name) {
		fail("metadata.name %q is not a valid entity name", name)
	}
	if ns, ok := md["namespace"]; ok {
		if s, _ := ns.(string); !dnsLabel(s) {
			fail("metadata.namespace %q is not a DNS label", ns)
		}
	}
	if d, ok := md["description"]; ok {
		if _, ok := d.(string); !ok {
			fail("metadata.description must be a string")
		}
	}
	for _, field := range []string{"labels", "annotations"} {
		m, ok := md[field]
		if !ok {
			continue
		}
		mm, ok := m.(map[string]any)
		if !ok {
			fail("metadata.%s must be an object", field)
			continue
		}
		for k, v := range mm {
			if !validKey(k) {
				fail("metadata.%s key %q is not [dns-subdomain/]name", field, k)
			}
			s, ok := v.(string)
			if !ok {
				fail("metadata.%s[%s] must be a string", field, k)
			}
			if field == "labels" && s != "" && !validName(s) {
				fail("metadata.labels[%s] value %q is not a valid label value", k, s)
			}
		}
	}
	if tags, ok := md["tags"]; ok {
		list, ok := tags.([]any)
		if !ok {
			fail("metadata.tags must be an array")
		}
		for _, t := range list {
			if s, _ := t.(string); !dnsLabel(s) {
				fail("tag %q is not a DNS label", t)
			}
		}
	}
	spec, ok := e["spec"].(map[string]any)
	if !ok {
		fail("spec is required for kind %s", kind)
		return errs
	}
	nonEmpty := func(key string, required bool) {
		v, ok := spec[key]
		if !ok {
			if required {
				fail("%s spec.%s is required", kind, key)
			}
			return
		}
		if s, _ := v.(string); s == "" {
			fail("%s spec.%s must be a non-empty string", kind, key)
		}
	}
	stringList := func(key string, required bool) {
		v, ok := spec[key]
		if !ok {
			if required {
				fail("%s spec.%s is required", kind, key)
			}
			return
		}
		list, ok := v.([]any)
		if !ok {
			fail("%s spec.%s must be an array", kind, key)
			return
		}
		for _, x := range list {
			if s, _ := x.(string); s == "" {
				fail("%s spec.%s items must be non-empty strings", kind, key)
			}
		}
	}
	switch kind {
	case "API":
		for _, k := range []string{"type", "lifecycle", "owner", "definition"} {
			nonEmpty(k, true)
		}
		nonEmpty("system", false)
	case "Component":
		for _, k := range []string{"type", "lifecycle", "owner"} {
			nonEmpty(k, true)
		}
		nonEmpty("system", false)
		stringList("consumesApis", false)
		stringList("providesApis", false)
	case "Group":
		nonEmpty("type", true)
		stringList("children", true)
	case "System":
		nonEmpty("owner", true)
		nonEmpty("domain", false)
	case "Location":
		nonEmpty("type", false)
		nonEmpty("target", false)
		stringList("targets", false)
	default:
		fail("kind %s is not one evctl writes", kind)
	}
	return errs
}

var (
	reKind     = regexp.MustCompile(`^[a-zA-Z][a-z0-9A-Z]*$`)
	reName     = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	reDNSLabel = regexp.MustCompile(`^[a-z0-9]+(\-[a-z0-9]+)*$`)
)

func validName(s string) bool { return len(s) >= 1 && len(s) <= 63 && reName.MatchString(s) }

func dnsLabel(s string) bool { return len(s) >= 1 && len(s) <= 63 && reDNSLabel.MatchString(s) }

func dnsSubdomain(s string) bool {
	if len(s) < 1 || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !dnsLabel(l) {
			return false
		}
	}
	return true
}

func validKey(k string) bool {
	parts := strings.Split(k, "/")
	switch len(parts) {
	case 1:
		return validName(parts[0])
	case 2:
		return dnsSubdomain(parts[0]) && validName(parts[1])
	}
	return false
}
