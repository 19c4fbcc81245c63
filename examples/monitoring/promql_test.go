package monitoring_test

import (
	"fmt"
	"regexp"
	"strings"
)

// keywords are PromQL words that are never metric names: operators, modifiers and aggregations
// (an aggregation is followed by "by", "without" or "(", never used as a selector).
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
	"on": true, "ignoring": true, "group_left": true, "group_right": true, "atan2": true,
	"inf": true, "nan": true, "Inf": true, "NaN": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// grouping keywords take a parenthesised list of label names, not an expression.
var grouping = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// labelValues is Grafana's variable query label_values(selector, label).
var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)

// metricNames returns the metric names a PromQL expression (or a Grafana label_values query)
// selects: bare selectors and {__name__="..."} matchers. It is a tokenizer, not a parser: it
// checks that strings, braces, brackets and parentheses are closed and nests, which is enough to
// find every selector, and leaves the rest of the grammar to Prometheus.
func metricNames(expr string) ([]string, error) {
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		expr = m[1]
	}
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	var stack []byte
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'' || c == '`':
			_, j, err := scanString(expr, i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '{':
			j, names, err := scanMatchers(expr, i)
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				add(n)
			}
			i = j
		case c == '[':
			j := strings.IndexByte(expr[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("promql: unclosed [ at %d in %q", i, expr)
			}
			if k := strings.IndexAny(expr[i+1:i+j], "[()"); k >= 0 {
				return nil, fmt.Errorf("promql: unexpected %q in range at %d in %q", expr[i+1+k], i+1+k, expr)
			}
			i += j + 1
		case c == '(':
			stack = append(stack, ')')
			i++
		case c == ')' || c == '}' || c == ']':
			if len(stack) == 0 || stack[len(stack)-1] != c {
				return nil, fmt.Errorf("promql: unbalanced %q at %d in %q", c, i, expr)
			}
			stack = stack[:len(stack)-1]
			i++
		case c == '$': // a Grafana variable: $name, ${name}
			i++
			if i < len(expr) && expr[i] == '{' {
				j := strings.IndexByte(expr[i:], '}')
				if j < 0 {
					return nil, fmt.Errorf("promql: unclosed ${ in %q", expr)
				}
				i += j + 1
				continue
			}
			for i < len(expr) && isIdent(expr[i], false) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			// numbers and durations (1e3, 0x1f, 5m, 1h30m)
			for i < len(expr) && (isIdent(expr[i], false) || expr[i] == '.') {
				i++
			}
		case isIdent(c, true):
			j := i
			for j < len(expr) && isIdent(expr[j], false) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\t' || expr[k] == '\n') {
				k++
			}
			nextParen := k < len(expr) && expr[k] == '('
			switch {
			case grouping[word] && nextParen:
				end := strings.IndexByte(expr[k:], ')')
				if end < 0 {
					return nil, fmt.Errorf("promql: unclosed %s( in %q", word, expr)
				}
				i = k + end + 1
			case keywords[word] || nextParen: // a function call; its "(" is read next
				i = j
			default:
				add(word)
				i = j
			}
		default: // operators, commas, @
			i++
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("promql: %d unclosed ( in %q", len(stack), expr)
	}
	return out, nil
}

func isIdent(c byte, first bool) bool {
	if c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return true
	}
	return !first && c >= '0' && c <= '9'
}

// scanString reads the quoted string starting at i and returns its content and the index after it.
func scanString(s string, i int) (string, int, error) {
	q := s[i]
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`' && j+1 < len(s):
			j++
			b.WriteByte(s[j])
		case s[j] == q:
			return b.String(), j + 1, nil
		default:
			b.WriteByte(s[j])
		}
	}
	return "", 0, fmt.Errorf("promql: unclosed string at %d in %q", i, s)
}

// scanMatchers reads {name op "value", ...} from i and returns the index after "}" and the
// metric names given by __name__= matchers.
func scanMatchers(s string, i int) (int, []string, error) {
	var names []string
	j := i + 1
	label := ""
	for j < len(s) {
		c := s[j]
		switch {
		case c == '}':
			return j + 1, names, nil
		case c == '"' || c == '\'' || c == '`':
			v, k, err := scanString(s, j)
			if err != nil {
				return 0, nil, err
			}
			// Only equality names a metric; =~ and != select by pattern.
			if label == "__name__" && j >= 1 && s[j-1] == '=' && (j < 2 || (s[j-2] != '!' && s[j-2] != '=')) {
				names = append(names, v)
			}
			label = ""
			j = k
		case isIdent(c, true):
			k := j
			for k < len(s) && isIdent(s[k], false) {
				k++
			}
			label = s[j:k]
			j = k
		case c == '{' || c == '(' || c == '[' || c == ')' || c == ']':
			return 0, nil, fmt.Errorf("promql: unexpected %q in label matchers at %d in %q", c, j, s)
		default:
			j++
		}
	}
	return 0, nil, fmt.Errorf("promql: unclosed { at %d in %q", i, s)
}
