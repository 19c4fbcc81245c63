package contract

import (
	"fmt"
	"strconv"
	"strings"
)

// RetentionMillis parses a retention as written in a contract: "7d", "12h", "30m", "45s", "1w",
// or "-1" (forever). It returns Kafka's retention.ms value.
func RetentionMillis(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "-1" {
		return -1, nil
	}
	if len(s) < 2 {
		return 0, fmt.Errorf("retention %q: want a number and a unit (7d, 12h, 30m, 45s, 1w) or -1", s)
	}
	unit := map[byte]int64{'s': 1000, 'm': 60_000, 'h': 3_600_000, 'd': 86_400_000, 'w': 7 * 86_400_000}[s[len(s)-1]]
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if unit == 0 || err != nil || n <= 0 {
		return 0, fmt.Errorf("retention %q: want a positive number and a unit (7d, 12h, 30m, 45s, 1w) or -1", s)
	}
	if n > (1<<62)/unit {
		return 0, fmt.Errorf("retention %q is too long", s)
	}
	return n * unit, nil
}
