package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/data/convert"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// Defaults of Config.
const (
	DefaultPoll            = 10 * time.Second
	DefaultMaxBody         = 4 << 20
	DefaultMaxBatchLines   = 10000
	DefaultDeliveryTimeout = 10 * time.Second
	DefaultLinger          = time.Millisecond
	DefaultMaxBuffered     = 100000
	// DefaultReadHeaderTimeout bounds reading a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, headers and body: a client that stalls
	// or trickles its body is cut off instead of holding a connection and a buffer.
	DefaultReadTimeout = 30 * time.Second
	// DefaultIdleTimeout bounds how long a keep-alive connection may wait for its next request.
	DefaultIdleTimeout = 60 * time.Second
	// RetryAfter is the Retry-After (seconds) of a 503.
	RetryAfter = "1"
)

// Config configures a Gateway. Store and Kafka are required.
type Config struct {
	// Store is the environment's descriptor store.
	Store blob.Store
	// Kafka are the client options reaching the cluster (seed brokers, SASL). The gateway adds
	// acks=all and idempotence (franz-go's defaults, asserted here), a bounded linger and
	// bounded buffers.
	Kafka []kgo.Opt
	// Poll is how often index.json is re-read (default DefaultPoll).
	Poll time.Duration
	// Tokens maps each team to its producer token. Empty means no authentication (`evctl dev`
	// only; the CLI refuses it elsewhere).
	Tokens map[string]string
	// Producers returns the teams that may publish an event (its access.producers). Nil lets
	// every authenticated team publish every event.
	Producers func(event string) []string
	// Keys returns the top-level fields whose values make an event's record key
	// (sinks.kafka.key). Nil means records have no key.
	Keys func(event string) []string
	// CORSOrigins are the origins browsers may publish from; "*" allows any.
	CORSOrigins []string
	// MaxBody bounds a request body in bytes (default DefaultMaxBody).
	MaxBody int64
	// MaxBatchLines bounds the events of one batch (default DefaultMaxBatchLines).
	MaxBatchLines int
	// Convert tunes conversion: unknown fields, limits, platform values.
	Convert convert.Options
	// DeliveryTimeout bounds how long a record may wait for Kafka before the request gets a 503
	// (default DefaultDeliveryTimeout).
	DeliveryTimeout time.Duration
	// Linger is how long the producer waits to batch records across requests (default
	// DefaultLinger; negative: no lingering, records still batch while a request is in flight).
	Linger time.Duration
	// MaxBuffered bounds the records waiting for Kafka; past it requests get a 503 at once
	// (default DefaultMaxBuffered).
	MaxBuffered int
	// ReadHeaderTimeout, ReadTimeout and IdleTimeout bound, on every route and protocol, reading
	// the headers, reading the whole request (headers and body) and waiting on an idle
	// connection (defaults DefaultReadHeaderTimeout, DefaultReadTimeout, DefaultIdleTimeout).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	// Teams are the teams evctl.yaml declares. When set, a token for any other team is refused
	// at start (a typo would otherwise leave a team locked out, or a stranger let in).
	Teams []string
	// Logger receives structured logs (default: discard).
	Logger *slog.Logger
	// Counters serves GET /v1/counters/{counter}/{key} (nil: every counter is 404).
	Counters *Counters
	// Preload fetches and builds every event's descriptors before the registry is ready (and
	// every changed one at each reload), as the gateway did before loading them on an event's
	// first request: start-up and memory then grow with the events published, not with those
	// used; the first request of an event no longer pays its load.
	Preload bool
	// RegistryBudget bounds, in bytes, the estimated memory of the events loaded at once
	// (default DefaultRegistryBudget; negative: unbounded). Past it the least recently used
	// events are evicted and loaded again on their next request. With Preload it is unbounded:
	// preloading every event means holding every event.
	RegistryBudget int64
	// TopicsPerProducer bounds the topics one Kafka client writes to; past it another client is
	// started (default DefaultTopicsPerProducer; see producers).
	TopicsPerProducer int
}

// registryBudget is the limit the registry's budget applies.
func registryBudget(cfg Config) int64 {
	switch {
	case cfg.Preload || cfg.RegistryBudget < 0:
		return 0
	case cfg.RegistryBudget == 0:
		return DefaultRegistryBudget
	}
	return cfg.RegistryBudget
}

// Gateway is a running ingestion gateway.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	metrics  *metrics
	registry *Registry
	kafka    *producers
	// buffered counts the records handed to the producers whose request is not answered yet,
	// bounded by Config.MaxBuffered across every client (a record stays counted until its whole
	// request is done: a bound a little stricter than the records in Kafka's buffers).
	buffered atomic.Int64
	tokens   []teamToken
	// debug is the listener of the Go runtime's profiles (ServeDebug; nil: none).
	debug net.Listener
	bufs  sync.Pool // *[]byte
	// jsonType is the Content-Type header value of the counter route's answers, one slice for
	// all of them (capacity 1: a handler that appends to it gets a copy).
	jsonType []string
}

// New builds a gateway: the Kafka client (no connection is made yet) and the registry, loaded
// once. A failed first load is logged and visible on /readyz; the poller retries it. Close
// releases the Kafka client.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.Store == nil {
		return nil, errors.New("gateway: no descriptor store")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxBatchLines <= 0 {
		cfg.MaxBatchLines = DefaultMaxBatchLines
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = DefaultDeliveryTimeout
	}
	switch {
	case cfg.Linger == 0:
		cfg.Linger = DefaultLinger
	case cfg.Linger < 0:
		cfg.Linger = 0
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = DefaultMaxBuffered
	}
	if cfg.TopicsPerProducer <= 0 {
		cfg.TopicsPerProducer = DefaultTopicsPerProducer
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if err := checkTokens(cfg.Tokens, cfg.Teams); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, metrics: newMetrics(), tokens: hashTokens(cfg.Tokens)}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	opts := append([]kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(cfg.Linger),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		kgo.MaxBufferedRecords(cfg.MaxBuffered),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		// Without this an idempotent producer waits forever for a record that may be in flight
		// when a broker goes away, and the request would hang instead of getting its 503. A
		// record failed this way may still have been written: a 503 means "retry with the same
		// event_id", and consumers dedupe on event_id. Every 2xx is still written exactly once.
		kgo.AllowIdempotentProduceCancellation(),
	}, cfg.Kafka...)
	var err error
	if g.kafka, err = newProducers(opts, cfg.TopicsPerProducer, g.metrics.producers); err != nil {
		return nil, err
	}
	g.registry = newRegistry(cfg.Store, cfg.Convert, cfg.Keys, g.log, g.metrics, registryBudget(cfg))
	g.registry.preload = cfg.Preload
	g.metrics.reg.MustRegister(g.registry.loadedGauge())
	_ = g.registry.Reload(ctx) // logged; /readyz reports it until a poll succeeds
	g.bufs.New = func() any { b := make([]byte, 0, 2048); return &b }
	g.jsonType = []string{"application/json"}
	return g, nil
}

// Registry returns the gateway's registry.
func (g *Gateway) Registry() *Registry { return g.registry }

// Close flushes nothing and releases the Kafka clients (and the profiles' listener): every
// request was answered only after its records were acknowledged or failed.
func (g *Gateway) Close() {
	if g.debug != nil {
		_ = g.debug.Close() // already closed when Serve ran
	}
	g.kafka.close()
}

// ServeDebug listens on addr, where Serve will also answer with the Go runtime's profiles
// (/debug/pprof/, net/http/pprof) and nothing else, until it returns. Without it no profiles
// are served anywhere. Call it before Serve.
func (g *Gateway) ServeDebug(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("gateway: profiles: %w", err)
	}
	g.debug = ln
	return nil
}

// Serve answers HTTP/1.1 and HTTP/2 without TLS (h2c, for gRPC) on ln, and polls the registry,
// until ctx is done; then it stops accepting, waits for requests in flight (bounded), and
// returns. It returns the server's error, or nil after a clean shutdown.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           g.Handler(),
		Protocols:         protocols,
		ReadHeaderTimeout: g.cfg.ReadHeaderTimeout,
		// ReadTimeout covers the body too (net/http has no separate body timeout; for HTTP/2
		// it bounds each stream). No WriteTimeout: an answer waits for Kafka, bounded by
		// DeliveryTimeout.
		ReadTimeout: g.cfg.ReadTimeout,
		IdleTimeout: g.cfg.IdleTimeout,
		ErrorLog:    slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	pctx, stopPoll := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		g.registry.Poll(pctx, g.cfg.Poll, func(ctx context.Context, topics []string) (map[string]int64, error) {
			return topicLimits(ctx, g.kafka.admin(), topics)
		})
	}()
	if g.debug != nil {
		dbg := &http.Server{Handler: debugHandler(), ReadHeaderTimeout: g.cfg.ReadHeaderTimeout,
			ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)}
		wg.Add(2)
		go func() {
			defer wg.Done()
			_ = dbg.Serve(g.debug) // ends with ErrServerClosed when closed below
		}()
		go func() {
			defer wg.Done()
			<-pctx.Done()
			_ = dbg.Close() // profiles in progress are cut off: they are not requests to drain
		}()
	}
	errc := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		errc <- srv.Serve(ln)
	}()
	var err error
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), g.cfg.DeliveryTimeout+5*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	case err = <-errc:
	}
	stopPoll()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("gateway: serve: %w", err)
	}
	return nil
}
