package descstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// The consumer definitions (SPEC-dataplane 11) live beside the descriptors, laid out the same
// way: consumers/index.json names every published consumer and the sha256 of its definition,
// and consumers/defs/<sha256>.json holds each definition, immutable and content addressed.
const (
	// ConsumersIndexKey is the consumers' index object.
	ConsumersIndexKey = "consumers/index.json"
	// ConsumerDefsPrefix is the key prefix every consumer definition lives under.
	ConsumerDefsPrefix = "consumers/defs/"
)

const consumerDefSuffix = ".json"

// ConsumerDefKey is the key of the consumer definition with the given sha256.
func ConsumerDefKey(sha string) string { return ConsumerDefsPrefix + sha + consumerDefSuffix }

// ConsumerDef is one published consumer: everything `evctl route` needs to run it without the
// contracts repository, for the environment it was published to. Field names follow the
// consumer YAML's keys, so the stored JSON reads like the file it came from.
type ConsumerDef struct {
	Name        string `json:"name"`
	Team        string `json:"team"`
	Description string `json:"description,omitempty"`
	// File is the consumer's file in the repository ("consumers/crm_nudges.yaml"), for messages.
	File string `json:"file,omitempty"`
	// Events are "<domain>/<event>" IDs, as written.
	Events []string `json:"events"`
	// Topics maps each event the environment hosts to its topic there. An event the
	// environment does not host has no entry and is not routed.
	Topics map[string]string `json:"topics"`
	// Group is the consumer group the route worker joins; DLQ its dead-letter topic.
	Group string `json:"group"`
	DLQ   string `json:"dlq"`
	// Where is the equality filter on top-level fields, values as written.
	Where     map[string]string `json:"where,omitempty"`
	Transform string            `json:"transform"`
	Deliver   ConsumerDeliver   `json:"deliver"`
	Retry     ConsumerRetry     `json:"retry"`
}

// ConsumerDeliver names exactly one target.
type ConsumerDeliver struct {
	HTTP  *ConsumerHTTP  `json:"http,omitempty"`
	Kafka *ConsumerKafka `json:"kafka,omitempty"`
}

// ConsumerHTTP is an HTTP target. The URL itself is never stored: only the name of the
// environment variable the route worker reads it from (it often holds a token).
type ConsumerHTTP struct {
	URLEnv  string            `json:"url_env"`
	Method  string            `json:"method,omitempty"`
	Timeout string            `json:"timeout,omitempty"`
	MaxRPS  float64           `json:"max_rps,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// ConsumerKafka is a Kafka target topic (the live name in the environment).
type ConsumerKafka struct {
	Topic string `json:"topic"`
}

// ConsumerRetry bounds redelivery; durations as written ("1s"), empty for the default.
type ConsumerRetry struct {
	MaxAttempts int    `json:"max_attempts,omitempty"`
	Backoff     string `json:"backoff,omitempty"`
	MaxBackoff  string `json:"max_backoff,omitempty"`
}

// Check reports what makes a definition unrunnable: no name, no events, or not exactly one
// target. A definition read from the store passed it when it was published; reading checks it
// again because the store is shared and writable by hand.
func (d *ConsumerDef) Check() error {
	switch {
	case d.Name == "":
		return errors.New("descstore: consumer definition has no name")
	case len(d.Events) == 0:
		return fmt.Errorf("descstore: consumer %s: no events", d.Name)
	case (d.Deliver.HTTP == nil) == (d.Deliver.Kafka == nil):
		return fmt.Errorf("descstore: consumer %s: deliver must name exactly one of http and kafka", d.Name)
	case d.Deliver.HTTP != nil && d.Deliver.HTTP.URLEnv == "":
		return fmt.Errorf("descstore: consumer %s: deliver.http has no url_env", d.Name)
	case d.Deliver.Kafka != nil && d.Deliver.Kafka.Topic == "":
		return fmt.Errorf("descstore: consumer %s: deliver.kafka has no topic", d.Name)
	}
	return nil
}

// EncodeConsumerDef is the definition's stored bytes and their sha256 (its content address).
// The encoding is deterministic (struct order, sorted map keys), so the same definition always
// has the same address and republishing an unchanged consumer writes nothing new.
func EncodeConsumerDef(d *ConsumerDef) ([]byte, string, error) {
	if err := d.Check(); err != nil {
		return nil, "", err
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, "", fmt.Errorf("descstore: encode consumer %s: %w", d.Name, err)
	}
	b = append(b, '\n')
	return b, SHA256(b), nil
}

// DecodeConsumerDef parses and checks a stored definition. Unknown keys are refused: a
// definition written by a newer evctl with a field this one does not know would otherwise be
// run without it.
func DecodeConsumerDef(b []byte) (*ConsumerDef, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	d := &ConsumerDef{}
	if err := dec.Decode(d); err != nil {
		return nil, fmt.Errorf("descstore: decode consumer definition: %w", err)
	}
	if dec.More() {
		return nil, errors.New("descstore: decode consumer definition: data after the object")
	}
	if err := d.Check(); err != nil {
		return nil, err
	}
	if d.Topics == nil {
		d.Topics = map[string]string{}
	}
	return d, nil
}

// ConsumerEntry is one consumer in consumers/index.json.
type ConsumerEntry struct {
	SHA256 string   `json:"sha256"` // the definition, see ConsumerDefKey
	Team   string   `json:"team"`
	Events []string `json:"events"`
}

// ConsumerIndex is consumers/index.json: every published consumer by name.
type ConsumerIndex struct {
	Consumers map[string]ConsumerEntry `json:"consumers"`
	// Version is the sha256 of the index object as read ("" when there is none): a poller that
	// sees the same Version has nothing to reload. Not stored.
	Version string `json:"-"`
}

// NewConsumerIndex returns an empty index.
func NewConsumerIndex() *ConsumerIndex {
	return &ConsumerIndex{Consumers: map[string]ConsumerEntry{}}
}

// Names lists the index's consumers, sorted.
func (idx *ConsumerIndex) Names() []string {
	out := make([]string, 0, len(idx.Consumers))
	for n := range idx.Consumers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// DecodeConsumerIndex parses consumers/index.json. Consumers is never nil in the result.
func DecodeConsumerIndex(b []byte) (*ConsumerIndex, error) {
	idx := &ConsumerIndex{}
	if err := json.Unmarshal(b, idx); err != nil {
		return nil, fmt.Errorf("descstore: decode %s: %w", ConsumersIndexKey, err)
	}
	if idx.Consumers == nil {
		idx.Consumers = map[string]ConsumerEntry{}
	}
	sum := sha256.Sum256(b)
	idx.Version = hex.EncodeToString(sum[:])
	return idx, nil
}

// EncodeConsumerIndex writes the index with sorted keys and indentation.
func EncodeConsumerIndex(idx *ConsumerIndex) ([]byte, error) {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("descstore: encode %s: %w", ConsumersIndexKey, err)
	}
	return append(b, '\n'), nil
}

// ErrCorruptConsumer reports a consumer definition whose bytes do not hash to the sha256 that
// names it. Test for it with errors.Is.
var ErrCorruptConsumer = errors.New("consumer definition does not match its sha256")
