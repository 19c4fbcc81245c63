package backstage

import (
	"sort"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/contract"
)

// ComponentSpec is the spec of a kind Component: a consumer (consumers/<name>.yaml) is a
// service its team owns that consumes the APIs of the events it reads.
type ComponentSpec struct {
	Type         string   `yaml:"type" json:"type"`
	Lifecycle    string   `yaml:"lifecycle" json:"lifecycle"`
	Owner        string   `yaml:"owner" json:"owner"`
	System       string   `yaml:"system,omitempty" json:"system,omitempty"`
	ConsumesAPIs []string `yaml:"consumesApis" json:"consumesApis"`
}

// APIRef is the entity reference of an event's API.
func APIRef(ev *contract.Event) string { return "api:default/" + APIName(ev) }

// ComponentPath is where a consumer's Component goes in the catalog folder.
func ComponentPath(c *consumer.Consumer) string { return "components/" + EntityName(c.Name) + ".yaml" }

// component is c's entity. Its lifecycle is production when it reads a prod event (a change to
// it reaches a prod consumer's deliveries), else experimental. Events the repository does not
// have are left out of consumesApis (lint reports them).
func component(c *consumer.Consumer, byID map[string]*contract.Event, s Settings) Entity {
	lifecycle := "experimental"
	apis := []string{}
	for _, id := range c.Events {
		ev := byID[id]
		if ev == nil {
			continue
		}
		apis = append(apis, APIRef(ev))
		if ev.Stage == contract.StageProd {
			lifecycle = "production"
		}
	}
	sort.Strings(apis)
	desc := strings.TrimSpace(c.Description)
	if i := strings.IndexByte(desc, '\n'); i >= 0 {
		desc = desc[:i]
	}
	deliver := "http"
	if c.Deliver.Kafka != nil {
		deliver = "kafka"
	}
	return Entity{APIVersion: APIVersion, Kind: "Component",
		Metadata: Metadata{Name: EntityName(c.Name), Title: c.Name, Description: desc,
			Labels:      map[string]string{"evctl.dev/deliver": deliver},
			Annotations: map[string]string{"evctl.dev/consumer": c.Name, "evctl.dev/file": c.File},
			Tags:        []string{"evctl", "consumer"}},
		Spec: ComponentSpec{Type: "service", Lifecycle: lifecycle, Owner: GroupRef(c.Owner.Team),
			System: EntityName(s.System), ConsumesAPIs: apis}}
}
