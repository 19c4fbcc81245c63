package contract

import (
	"fmt"
	"strconv"
	"time"
)

// SumCount is the Counter.Sum that counts events instead of summing a field.
const SumCount = "1"

// Counter is one engagement counter declared on an event (SPEC-dataplane 12): a count (or sum)
// per key, aggregated in tumbling windows whose length depends on the key's current value.
type Counter struct {
	Name string `yaml:"name"`
	// Key is the top-level field whose value a count belongs to (post_id).
	Key string `yaml:"key"`
	// Where is an equality filter on top-level fields; values as written (enum names, numbers,
	// true/false).
	Where map[string]string `yaml:"where"`
	// Sum is "1" (count events) or the name of a numeric top-level field to add up.
	Sum string `yaml:"sum"`
	// Windows are tiers ordered by Below, the last one without Below.
	Windows []Window `yaml:"windows"`
	// Milestones are values, ascending; one is reached when the value becomes >= it.
	Milestones []int64 `yaml:"milestones"`
}

// Window is one tier: keys whose value is below Below (or any value, when Below is 0 on the last
// tier) are aggregated in tumbling windows of Every.
type Window struct {
	Below int64  `yaml:"below"`
	Every string `yaml:"every"`
}

// Counts reports whether the counter counts events (sum: 1, or sum left out).
func (c *Counter) Counts() bool { return c.Sum == "" || c.Sum == SumCount }

// Duration parses Every ("5s", "1m", "2h"; Go durations).
func (w Window) Duration() (time.Duration, error) {
	if w.Every == "" {
		return 0, fmt.Errorf("every is missing")
	}
	d, err := time.ParseDuration(w.Every)
	if err != nil {
		return 0, fmt.Errorf("every %q is not a duration like 5s, 1m or 1h", w.Every)
	}
	if d <= 0 {
		return 0, fmt.Errorf("every %q must be more than 0", w.Every)
	}
	return d, nil
}

// IsInteger reports whether s is written as a whole number (sum: 1 vs sum: likes).
func IsInteger(s string) bool { _, err := strconv.ParseInt(s, 10, 64); return err == nil }
