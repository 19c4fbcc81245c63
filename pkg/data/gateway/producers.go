package gateway

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultTopicsPerProducer bounds the topics one Kafka client of the gateway writes to
// (Config.TopicsPerProducer).
const DefaultTopicsPerProducer = 500

// producers spreads the topics the gateway writes to over Kafka clients, each given at most
// per topics, a new client started when the last one is full.
//
// Why not one client: franz-go's producer asks for the metadata of every topic it writes to
// each time it meets a topic it does not know yet (and every MetadataMaxAge), so with one
// client the first requests of N event types cost N metadata requests of up to N topics each,
// and their answers are parsed and merged anew each time: posting the first request of each of
// 10,000 types took 431 s, the gateway busy refreshing metadata and collecting its garbage.
// With per topics to a client, a new topic costs a refresh of at most per topics, whatever
// the number in use.
//
// A topic stays on the client it was given: its partitions' records keep one producer, their
// order and their idempotent sequence numbers. Each client has its own connections and
// producer id; Config.MaxBuffered bounds the records buffered across all of them (Gateway.buffered).
type producers struct {
	opts []kgo.Opt
	per  int
	// byTopic is each assigned topic's client (string → *kgo.Client): read on every record,
	// written once per topic.
	byTopic sync.Map
	count   prometheus.Gauge

	mu      sync.Mutex // guards clients and last; serialises assigning topics
	clients []*kgo.Client
	last    int // topics given to the last client
}

// newProducers starts the first client (which connects on first use) with opts.
func newProducers(opts []kgo.Opt, per int, count prometheus.Gauge) (*producers, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("gateway: kafka client: %w", err)
	}
	count.Set(1)
	return &producers{opts: opts, per: per, count: count, clients: []*kgo.Client{cl}}, nil
}

// admin is the client of the requests that are not produce requests (the first; never closed
// before the others).
func (p *producers) admin() *kgo.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clients[0]
}

// forTopic returns the client writing topic, giving the topic one the first time.
func (p *producers) forTopic(topic string) (*kgo.Client, error) {
	if cl, ok := p.byTopic.Load(topic); ok {
		return cl.(*kgo.Client), nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cl, ok := p.byTopic.Load(topic); ok {
		return cl.(*kgo.Client), nil
	}
	if p.last >= p.per {
		cl, err := kgo.NewClient(p.opts...)
		if err != nil {
			return nil, fmt.Errorf("gateway: kafka client: %w", err)
		}
		p.clients = append(p.clients, cl)
		p.last = 0
		p.count.Set(float64(len(p.clients)))
	}
	cl := p.clients[len(p.clients)-1]
	p.last++
	p.byTopic.Store(topic, cl)
	return cl, nil
}

// close releases every client.
func (p *producers) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cl := range p.clients {
		cl.Close()
	}
}
