package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"golang.org/x/sync/singleflight"
)

// SASL mechanism names accepted in SASL.Mechanism.
const (
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
	MechanismPlain       = "PLAIN"
)

// SASL holds the credentials the client authenticates with. The caller reads them from the
// environment variables evctl.yaml names. String, GoString and LogValue redact Password, so
// printing or logging a Config never shows it.
type SASL struct {
	Mechanism string // SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN; empty means no SASL
	User      string
	Password  string
}

// String describes the credentials without the password.
func (s SASL) String() string {
	if s.Mechanism == "" {
		return "none"
	}
	return s.Mechanism + " user=" + s.User + " password=<redacted>"
}

// GoString is String, so %#v cannot print the password either.
func (s SASL) GoString() string { return "kafka.SASL{" + s.String() + "}" }

// LogValue keeps the password out of slog output.
func (s SASL) LogValue() slog.Value {
	return slog.GroupValue(slog.String("mechanism", s.Mechanism), slog.String("user", s.User))
}

// Config says how to reach a cluster.
type Config struct {
	Brokers []string
	SASL    SASL
	// Logger receives the Kafka client's warnings and errors; nil discards them. Client logs
	// never carry SASL passwords.
	Logger *slog.Logger
	// Opts are extra franz-go client options, appended last (for example a TLS dialer).
	Opts []kgo.Opt
}

// Client is an authenticated connection to one cluster, shared by the three sinks. It is safe
// for concurrent use.
type Client struct {
	cl  *kgo.Client
	adm *kadm.Client
	// listing merges concurrent listings of every topic (topics.go): a plan lists topics for
	// the topic and the dead-letter kinds at the same time, and with 20,000 topics each
	// listing is a large response for the broker to build and the client to read.
	listing singleflight.Group
}

// Connect builds a client for cfg and checks that the cluster answers and accepts the
// credentials before returning. Errors are prefixed "kafka: connect" and never contain the
// password; a cluster that does not answer before ctx is done returns ctx's error, wrapped.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka: connect: no brokers configured")
	}
	opts := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}
	if cfg.SASL.Mechanism != "" {
		m, err := cfg.SASL.Franz()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	if cfg.Logger != nil {
		opts = append(opts, kgo.WithLogger(slogAdapter{cfg.Logger}))
	}
	opts = append(opts, cfg.Opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: connect: %w", err)
	}
	c := &Client{cl: cl, adm: kadm.NewClient(cl)}
	// A metadata request authenticates, unlike Ping's ApiVersions on some brokers.
	probe := kmsg.NewPtrMetadataRequest()
	probe.Topics = []kmsg.MetadataRequestTopic{} // brokers only: cheap on a large cluster
	if _, err := c.request(ctx, probe); err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafka: connect to %s: %w", strings.Join(cfg.Brokers, ","), err)
	}
	return c, nil
}

// Franz returns the franz-go SASL mechanism for s, for any client evctl builds (the sinks'
// admin client, the gateway's producer).
func (s SASL) Franz() (sasl.Mechanism, error) {
	switch strings.ToUpper(s.Mechanism) {
	case MechanismScramSHA256:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism(), nil
	case MechanismScramSHA512:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism(), nil
	case MechanismPlain:
		return plain.Auth{User: s.User, Pass: s.Password}.AsMechanism(), nil
	}
	return nil, fmt.Errorf("kafka: connect: unsupported SASL mechanism %q (want %s, %s or %s)",
		s.Mechanism, MechanismScramSHA256, MechanismScramSHA512, MechanismPlain)
}

// Close releases the client's connections.
func (c *Client) Close() { c.cl.Close() }

// Kgo returns the underlying franz-go client, for producing and consuming.
func (c *Client) Kgo() *kgo.Client { return c.cl }

// Admin returns the underlying franz-go admin client.
func (c *Client) Admin() *kadm.Client { return c.adm }

// request issues one request; sharded requests (DescribeConfigs) come back merged.
func (c *Client) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	resp, err := c.cl.Request(ctx, req)
	if err != nil {
		return nil, c.explain(ctx, err)
	}
	return resp, nil
}

// explain adds why to a request's error: kgo reports a cancelled wait for a broker as a generic
// failure.
func (c *Client) explain(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w (%v)", ctxErr, err)
	}
	return err
}

// timeoutMillis is the broker-side timeout for admin requests: the time left on ctx, capped.
func timeoutMillis(ctx context.Context) int32 {
	const limit = 30_000
	dl, ok := ctx.Deadline()
	if !ok {
		return limit
	}
	ms := time.Until(dl).Milliseconds()
	switch {
	case ms <= 0:
		return 1
	case ms > limit:
		return limit
	}
	return int32(ms)
}

// slogAdapter routes the client's warnings and errors to a slog.Logger.
type slogAdapter struct{ l *slog.Logger }

func (slogAdapter) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (a slogAdapter) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelWarn
	if level == kgo.LogLevelError {
		lv = slog.LevelError
	}
	a.l.Log(context.Background(), lv, "kafka: "+msg, keyvals...)
}

// brokerErr turns a per-resource error code and message into an error, nil for success.
func brokerErr(code int16, msg *string) error {
	err := kerr.ErrorForCode(code)
	if err == nil {
		return nil
	}
	if msg != nil && *msg != "" && !strings.Contains(err.Error(), *msg) {
		return fmt.Errorf("%w: %s", err, *msg)
	}
	return err
}

// describeACLs lists the cluster's ACLs of resources of type typ and pattern type pattern, of
// principal (every principal when nil), with one DescribeACLs request.
func (c *Client) describeACLs(ctx context.Context, typ kmsg.ACLResourceType, pattern kmsg.ACLResourcePatternType, principal *string) (*kmsg.DescribeACLsResponse, error) {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType = typ
	req.ResourcePatternType = pattern
	req.Principal = principal
	req.Operation = kmsg.ACLOperationAny
	req.PermissionType = kmsg.ACLPermissionTypeAny
	kresp, err := c.request(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := kresp.(*kmsg.DescribeACLsResponse)
	if err := brokerErr(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return nil, err
	}
	return resp, nil
}
