package schema

// consumerDoc is the shape of consumers/<name>.yaml (SPEC-dataplane 11). It mirrors the consumer
// model its loader reads (pkg/contracts/consumer, being built in parallel); when that package
// is on main, kinds() should reflect over consumer.Consumer instead and this file go.
type consumerDoc struct {
	Name        string            `yaml:"name"`
	Owner       consumerOwner     `yaml:"owner"`
	Description string            `yaml:"description"`
	Events      []string          `yaml:"events"`
	Where       map[string]string `yaml:"where"`
	Transform   string            `yaml:"transform"`
	Deliver     consumerDeliver   `yaml:"deliver"`
	Retry       consumerRetry     `yaml:"retry"`
}

type consumerOwner struct {
	Team string `yaml:"team"`
}

// consumerDeliver names exactly one target (the schema says so with oneOf, see For).
type consumerDeliver struct {
	HTTP  *consumerHTTP  `yaml:"http"`
	Kafka *consumerKafka `yaml:"kafka"`
}

type consumerHTTP struct {
	URLEnv  string            `yaml:"url_env"`
	Method  string            `yaml:"method"`
	Timeout string            `yaml:"timeout"`
	MaxRPS  float64           `yaml:"max_rps"`
	Headers map[string]string `yaml:"headers"`
}

type consumerKafka struct {
	Topic string `yaml:"topic"`
}

type consumerRetry struct {
	MaxAttempts int    `yaml:"max_attempts"`
	Backoff     string `yaml:"backoff"`
	MaxBackoff  string `yaml:"max_backoff"`
}
