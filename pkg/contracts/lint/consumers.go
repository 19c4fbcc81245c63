package lint

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/transform"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// Rule IDs of consumer rules (SPEC-dataplane 11), one analyzer each.
const (
	RuleConsumerName     = "CONSUMER_NAME"
	RuleConsumerEvent    = "CONSUMER_EVENT"
	RuleConsumerTeam     = "CONSUMER_TEAM"
	RuleConsumerWhere    = "CONSUMER_WHERE"
	RuleConsumerTemplate = "CONSUMER_TEMPLATE"
	RuleConsumerField    = "CONSUMER_FIELD"
	RuleConsumerExample  = "CONSUMER_EXAMPLE"
	RuleConsumerDeliver  = "CONSUMER_DELIVER"
	RuleConsumerDuration = "CONSUMER_DURATION"
)

var consumerRules = []Rule{
	{RuleConsumerName, "a consumer's name is snake_case, unique, and names its file consumers/<name>.yaml"},
	{RuleConsumerEvent, "a consumer lists at least one event, each a <domain>/<event> of the repository"},
	{RuleConsumerTeam, "a consumer's owner.team is a team in evctl.yaml"},
	{RuleConsumerWhere, "a consumer's where names top-level scalar fields of every listed event, with values of their type"},
	{RuleConsumerTemplate, "a consumer's transform is a template that parses (only json, uuid, now, default, lower, upper, toUnixMillis; no define/template; range over fields)"},
	{RuleConsumerField, "a consumer's template names only fields every listed event has"},
	{RuleConsumerExample, "each listed event's examples render through the consumer's template"},
	{RuleConsumerDeliver, "a consumer's deliver names exactly one target: http (url_env, a method, max_rps >= 0) or kafka (a valid topic name that is no event's topic and no dead-letter topic)"},
	{RuleConsumerDuration, "a consumer's timeout, backoff and max_backoff parse as durations; max_attempts is 1 or more"},
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkConsumers runs the consumer rules that need no compiled contract.
func checkConsumers(ws *workspace.Workspace) diag.List {
	var out diag.List
	out.Add(checkConsumerNames(ws)...)
	for _, c := range ws.Consumers {
		out.Add(checkConsumerEvents(ws, c)...)
		out.Add(checkConsumerTeam(ws, c)...)
		out.Add(checkConsumerTemplate(c)...)
		out.Add(checkConsumerDeliver(c)...)
		out.Add(checkConsumerTopic(ws, c)...)
		out.Add(checkConsumerDurations(c)...)
	}
	return out
}

// checkConsumersCompiled runs the rules that need each listed event's compiled message.
func checkConsumersCompiled(ws *workspace.Workspace, res *compile.Result) diag.List {
	var out diag.List
	if res == nil {
		return nil
	}
	for _, c := range ws.Consumers {
		tpl, _ := transform.Parse(c.Transform, transform.Options{})
		for i, id := range c.Events {
			md, ok := res.Messages[id]
			if !ok {
				continue
			}
			at := c.Pos(fmt.Sprintf("events[%d]", i))
			out.Add(checkConsumerWhere(c, id, md)...)
			if tpl == nil {
				continue
			}
			fields := checkConsumerFields(c, tpl, id, md)
			out.Add(fields...)
			if len(fields) == 0 { // a missing field fails every render: CONSUMER_FIELD said so
				out.Add(checkConsumerExamples(ws, c, tpl, id, md, at)...)
			}
		}
	}
	return out
}

func checkConsumerNames(ws *workspace.Workspace) diag.List {
	var out diag.List
	first := map[string]*consumer.Consumer{}
	for _, c := range ws.Consumers {
		base := strings.TrimSuffix(strings.TrimSuffix(path.Base(c.File), ".yaml"), ".yml")
		switch {
		case c.Name == "":
			out.Add(diag.Errorf(c.Pos(""), RuleConsumerName, "the consumer has no name; it must be %q, the file's name", base))
		case !snake.MatchString(c.Name) || len(c.Name) > 64:
			out.Add(diag.Errorf(c.Pos("name"), RuleConsumerName, "consumer name %q must be snake_case ([a-z][a-z0-9_]*, at most 64 characters)", c.Name))
		case c.Name != base:
			out.Add(diag.Errorf(c.Pos("name"), RuleConsumerName, "consumer %q must be in a file named consumers/%s.yaml", c.Name, c.Name))
		case first[c.Name] != nil:
			out.Add(diag.Errorf(c.Pos("name"), RuleConsumerName, "consumer name %q is already used by %s", c.Name, first[c.Name].File))
		default:
			first[c.Name] = c
		}
	}
	return out
}

func checkConsumerEvents(ws *workspace.Workspace, c *consumer.Consumer) diag.List {
	if len(c.Events) == 0 {
		return diag.List{diag.Errorf(c.Pos(""), RuleConsumerEvent, "consumer %q lists no events: events: [<domain>/<event>]", c.Name)}
	}
	var out diag.List
	for i, id := range c.Events {
		found := false
		for _, ev := range ws.Events {
			if ev.ID() == id {
				found = true
				break
			}
		}
		if !found {
			out.Add(diag.Errorf(c.Pos(fmt.Sprintf("events[%d]", i)), RuleConsumerEvent, "consumer %q: %q is not an event of the repository (write <domain>/<event>)", c.Name, id))
		}
	}
	return out
}

func checkConsumerTeam(ws *workspace.Workspace, c *consumer.Consumer) diag.List {
	if _, ok := ws.Project.Teams[c.Owner.Team]; ok {
		return nil
	}
	at := c.Pos("owner.team")
	if !c.Doc.Has("owner.team") {
		at = c.Pos("")
	}
	return diag.List{diag.Errorf(at, RuleConsumerTeam, "consumer owner team %q is not a team in evctl.yaml%s", c.Owner.Team, known(keys(ws.Project.Teams)))}
}

func checkConsumerTemplate(c *consumer.Consumer) diag.List {
	if strings.TrimSpace(c.Transform) == "" {
		return diag.List{diag.Errorf(c.Pos(""), RuleConsumerTemplate, "consumer %q has no transform", c.Name)}
	}
	_, err := transform.Parse(c.Transform, transform.Options{})
	if te, ok := err.(*transform.Error); ok {
		return diag.List{diag.Errorf(c.TransformPos(te.Line, te.Col), RuleConsumerTemplate, "consumer %q: %s", c.Name, te.Msg)}
	}
	return nil
}

func checkConsumerWhere(c *consumer.Consumer, id string, md protoreflect.MessageDescriptor) diag.List {
	var out diag.List
	for _, name := range sortedKeys(c.Where) {
		at := c.Pos("where." + name)
		if why := keyableField(md, name); why != "" {
			out.Add(diag.Errorf(at, RuleConsumerWhere, "consumer %q where on %s: %s", c.Name, id, why))
			continue
		}
		if why := valueFits(md.Fields().ByName(protoreflect.Name(name)), c.Where[name]); why != "" {
			out.Add(diag.Errorf(at, RuleConsumerWhere, "consumer %q where %s on %s: %s", c.Name, name, id, why))
		}
	}
	return out
}

func checkConsumerFields(c *consumer.Consumer, tpl *transform.Template, id string, md protoreflect.MessageDescriptor) diag.List {
	var out diag.List
	_, errs := tpl.Check(md)
	for _, e := range errs {
		out.Add(diag.Errorf(c.TransformPos(e.Line, e.Col), RuleConsumerField, "consumer %q on %s: %s", c.Name, id, e.Msg))
	}
	return out
}

// checkConsumerExamples renders each example of the event through the template, with a fixed
// clock, as evctl route would.
func checkConsumerExamples(ws *workspace.Workspace, c *consumer.Consumer, tpl *transform.Template, id string, md protoreflect.MessageDescriptor, at diag.Pos) diag.List {
	ev := ws.Event(id)
	if ev == nil {
		return nil
	}
	var out diag.List
	for i := range ev.Examples {
		js, err := ev.Examples[i].JSON()
		if err != nil {
			continue // EXAMPLE reports it
		}
		m := dynamicpb.NewMessage(md)
		if protojson.Unmarshal(js, m) != nil {
			continue // EXAMPLE reports it
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = tpl.Render(ctx, transform.Data(m), 0)
		cancel()
		if err != nil {
			out.Add(diag.Errorf(at, RuleConsumerExample, "consumer %q: example %d of %s does not render: %v", c.Name, i+1, id, err))
		}
	}
	return out
}

func checkConsumerDeliver(c *consumer.Consumer) diag.List {
	d := c.Deliver
	switch {
	case d.HTTP == nil && d.Kafka == nil:
		at := c.Pos("deliver")
		if !c.Doc.Has("deliver") {
			at = c.Pos("")
		}
		return diag.List{diag.Errorf(at, RuleConsumerDeliver, "consumer %q needs deliver: http: {url_env: ...} or kafka: {topic: ...}", c.Name)}
	case d.HTTP != nil && d.Kafka != nil:
		return diag.List{diag.Errorf(c.Pos("deliver.kafka"), RuleConsumerDeliver, "consumer %q delivers to one target: http or kafka, not both", c.Name)}
	case d.Kafka != nil:
		if d.Kafka.Topic == "" {
			return diag.List{diag.Errorf(c.Pos("deliver.kafka"), RuleConsumerDeliver, "consumer %q: deliver.kafka needs a topic", c.Name)}
		}
		return nil
	}
	var out diag.List
	h := d.HTTP
	switch {
	case h.URLEnv == "":
		out.Add(diag.Errorf(c.Pos("deliver.http"), RuleConsumerDeliver, "consumer %q: deliver.http needs url_env, the environment variable holding the URL", c.Name))
	case !envName.MatchString(h.URLEnv):
		out.Add(diag.Errorf(c.Pos("deliver.http.url_env"), RuleConsumerDeliver, "consumer %q: url_env %q is not an environment variable name (the URL itself stays out of the repository)", c.Name, h.URLEnv))
	}
	switch h.MethodOrDefault() {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		out.Add(diag.Errorf(c.Pos("deliver.http.method"), RuleConsumerDeliver, "consumer %q: method %q must be POST, PUT or PATCH (a body is sent)", c.Name, h.Method))
	}
	if h.MaxRPS < 0 {
		out.Add(diag.Errorf(c.Pos("deliver.http.max_rps"), RuleConsumerDeliver, "consumer %q: max_rps must be 0 (no limit) or more", c.Name))
	}
	for _, k := range sortedKeys(h.Headers) {
		if strings.EqualFold(k, "Idempotency-Key") || strings.EqualFold(k, "evctl-event") || strings.EqualFold(k, "Content-Type") {
			out.Add(diag.Errorf(c.Pos("deliver.http.headers."+k), RuleConsumerDeliver, "consumer %q: header %s is set by evctl route", c.Name, k))
		}
	}
	return out
}

// kafkaTopicName is what Kafka accepts as a topic name (at most 249 of these characters).
var kafkaTopicName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

// checkConsumerTopic checks a deliver.kafka topic: a name Kafka accepts, and none that evctl
// already provisions for something else (an event's topic in any environment, a dead-letter
// topic), since apply creates it as the consumer team's own.
func checkConsumerTopic(ws *workspace.Workspace, c *consumer.Consumer) diag.List {
	k := c.Deliver.Kafka
	if k == nil || k.Topic == "" {
		return nil
	}
	at := c.Pos("deliver.kafka.topic")
	switch {
	case !kafkaTopicName.MatchString(k.Topic) || k.Topic == "." || k.Topic == "..":
		return diag.List{diag.Errorf(at, RuleConsumerDeliver, "consumer %q: deliver.kafka.topic %q is not a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)", c.Name, k.Topic)}
	case strings.HasSuffix(k.Topic, ".dlq"):
		return diag.List{diag.Errorf(at, RuleConsumerDeliver, "consumer %q: deliver.kafka.topic %q ends in .dlq, the dead-letter topics' names", c.Name, k.Topic)}
	}
	for _, other := range ws.Consumers {
		if other == c {
			break
		}
		if other.Deliver.Kafka != nil && other.Deliver.Kafka.Topic == k.Topic {
			return diag.List{diag.Errorf(at, RuleConsumerDeliver, "consumer %q: deliver.kafka.topic %q is already %s's (%s); apply creates a target topic for one consumer", c.Name, k.Topic, other.Name, other.File)}
		}
	}
	envs := keys(ws.Project.Environments)
	sort.Strings(envs)
	for _, env := range envs {
		for _, ev := range ws.Events {
			if ev.Sinks.Kafka != nil && ws.Project.TopicName(env, ev) == k.Topic {
				return diag.List{diag.Errorf(at, RuleConsumerDeliver, "consumer %q: deliver.kafka.topic %q is the topic of %s in %s; deliver to a topic of its own", c.Name, k.Topic, ev.ID(), env)}
			}
		}
	}
	return nil
}

func checkConsumerDurations(c *consumer.Consumer) diag.List {
	var out diag.List
	if h := c.Deliver.HTTP; h != nil {
		if _, err := h.HTTPTimeout(); err != nil {
			out.Add(diag.Errorf(c.Pos("deliver.http.timeout"), RuleConsumerDuration, "consumer %q: %v", c.Name, err))
		}
	}
	if _, err := c.Retry.BackoffDuration(); err != nil {
		out.Add(diag.Errorf(c.Pos("retry.backoff"), RuleConsumerDuration, "consumer %q: %v", c.Name, err))
	}
	if _, err := c.Retry.MaxBackoffDuration(); err != nil {
		out.Add(diag.Errorf(c.Pos("retry.max_backoff"), RuleConsumerDuration, "consumer %q: %v", c.Name, err))
	}
	if c.Retry.MaxAttempts < 0 || (c.Doc.Has("retry.max_attempts") && c.Retry.MaxAttempts == 0) {
		out.Add(diag.Errorf(c.Pos("retry.max_attempts"), RuleConsumerDuration, "consumer %q: max_attempts must be 1 or more", c.Name))
	}
	return out
}
