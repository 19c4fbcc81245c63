package consumer

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/yamlsrc"
)

// Consumer is one consumers/<name>.yaml.
type Consumer struct {
	Name        string `yaml:"name"`
	Owner       Owner  `yaml:"owner"`
	Description string `yaml:"description"`
	// Events are "<domain>/<event>" IDs.
	Events []string `yaml:"events"`
	// Where is an equality filter on top-level fields, all must hold; values as written (enum
	// names, numbers, true/false), like a counter's where.
	Where map[string]string `yaml:"where"`
	// Transform is a Go text/template over the decoded event.
	Transform string  `yaml:"transform"`
	Deliver   Deliver `yaml:"deliver"`
	Retry     Retry   `yaml:"retry"`

	Doc *yamlsrc.Doc `yaml:"-"`
	// File is the path relative to the repository root, with forward slashes.
	File string `yaml:"-"`
	src  []byte
}

// Owner is the owning team.
type Owner struct {
	Team string `yaml:"team"`
}

// Deliver names exactly one target.
type Deliver struct {
	HTTP  *HTTP  `yaml:"http"`
	Kafka *Kafka `yaml:"kafka"`
}

// HTTP delivers each rendered body to a URL read from the environment variable URLEnv (the URL
// often holds a token, so it is never written in the repository).
type HTTP struct {
	URLEnv  string            `yaml:"url_env"`
	Method  string            `yaml:"method"`
	Timeout string            `yaml:"timeout"`
	MaxRPS  float64           `yaml:"max_rps"`
	Headers map[string]string `yaml:"headers"`
}

// Kafka delivers each rendered body to a topic.
type Kafka struct {
	Topic string `yaml:"topic"`
}

// Retry bounds redelivery of a failed body.
type Retry struct {
	MaxAttempts int    `yaml:"max_attempts"`
	Backoff     string `yaml:"backoff"`
	MaxBackoff  string `yaml:"max_backoff"`
}

// Defaults used where a consumer leaves a field out.
const (
	DefaultMethod      = "POST"
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 5
	DefaultBackoff     = time.Second
	DefaultMaxBackoff  = 5 * time.Minute
)

// Pos returns the position of the value at a YAML path in this consumer's file.
func (c *Consumer) Pos(path string) diag.Pos {
	if c.Doc == nil {
		return diag.Pos{File: c.File, Line: 1, Col: 1}
	}
	return c.Doc.Pos(path)
}

// KeyPos returns the position of the key at a YAML path in this consumer's file.
func (c *Consumer) KeyPos(path string) diag.Pos {
	if c.Doc == nil {
		return diag.Pos{File: c.File, Line: 1, Col: 1}
	}
	return c.Doc.KeyPos(path)
}

// TransformPos maps a line and column inside the transform's text (1-based, as text/template
// reports them) to the file: for a block scalar (`transform: |`) the text starts on the line
// after the key, indented; for a plain or quoted scalar it starts at the value. Quoted scalars
// with escapes can shift columns; the line is still right.
func (c *Consumer) TransformPos(line, col int) diag.Pos {
	p := c.Pos("transform")
	if c.Doc == nil {
		return p
	}
	n := c.Doc.Node("transform")
	if n == nil || line < 1 {
		return p
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		if line == 1 {
			off := 0
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
				off = 1
			}
			return diag.Pos{File: p.File, Line: p.Line, Col: p.Col + off + max(col, 1) - 1}
		}
		return diag.Pos{File: p.File, Line: p.Line + line - 1, Col: max(col, 1)}
	}
	// Block scalar: content lines follow the indicator line; the indentation is that of the first
	// non-blank content line. Folded scalars join lines, so only literal ones map exactly.
	lines := strings.Split(string(c.src), "\n")
	indent := 0
	for i := p.Line; i < len(lines); i++ { // lines[p.Line] is the line after the indicator
		if t := strings.TrimLeft(lines[i], " "); t != "" {
			indent = len(lines[i]) - len(t)
			break
		}
	}
	return diag.Pos{File: p.File, Line: p.Line + line, Col: indent + max(col, 1)}
}

// HTTPTimeout, BackoffDuration and MaxBackoffDuration parse the durations, with defaults.
func (h *HTTP) HTTPTimeout() (time.Duration, error) {
	return duration("timeout", h.Timeout, DefaultTimeout)
}

// BackoffDuration is the first retry's delay.
func (r Retry) BackoffDuration() (time.Duration, error) {
	return duration("backoff", r.Backoff, DefaultBackoff)
}

// MaxBackoffDuration caps the delay between retries.
func (r Retry) MaxBackoffDuration() (time.Duration, error) {
	return duration("max_backoff", r.MaxBackoff, DefaultMaxBackoff)
}

// Attempts is MaxAttempts or its default.
func (r Retry) Attempts() int {
	if r.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return r.MaxAttempts
}

func duration(key, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a duration like 500ms, 5s or 1m", key, s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s %q must be more than 0", key, s)
	}
	return d, nil
}

// MethodOrDefault is the HTTP method, POST when left out.
func (h *HTTP) MethodOrDefault() string {
	if h.Method == "" {
		return DefaultMethod
	}
	return strings.ToUpper(h.Method)
}
