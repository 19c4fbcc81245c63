// Package diag owns the values evctl reports about user input: a source position and a finding
// (rule ID, severity, message). Contract problems are collected as a List, never first-error-wins.
// It knows nothing of YAML, protos or output formats.
package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a place in a file of the contracts repository. Line and Col are 1-based; 0 means unknown.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"column"`
}

// String renders file:line:col, omitting unknown parts.
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity of a finding. Errors fail lint; warnings do not.
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Diagnostic is one finding about the user's input.
type Diagnostic struct {
	Pos
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String renders like a compiler: file:line:col: RULE: message.
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s", d.Pos, d.Rule, d.Message)
}

// Errorf builds an error-severity diagnostic.
func Errorf(pos Pos, rule, format string, args ...any) Diagnostic {
	return Diagnostic{Pos: pos, Rule: rule, Severity: Error, Message: fmt.Sprintf(format, args...)}
}

// Warnf builds a warning-severity diagnostic.
func Warnf(pos Pos, rule, format string, args ...any) Diagnostic {
	return Diagnostic{Pos: pos, Rule: rule, Severity: Warning, Message: fmt.Sprintf(format, args...)}
}

// List is a collection of findings.
type List []Diagnostic

// Add appends findings.
func (l *List) Add(ds ...Diagnostic) { *l = append(*l, ds...) }

// HasErrors reports whether any finding is an error.
func (l List) HasErrors() bool {
	for _, d := range l {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Sort orders findings by file, line, column, rule and message, and drops exact duplicates.
func (l *List) Sort() {
	s := *l
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
	out := s[:0]
	for i, d := range s {
		if i > 0 && d == s[i-1] {
			continue
		}
		out = append(out, d)
	}
	*l = out
}

// Err returns the list as an error when it holds errors, else nil.
func (l List) Err() error {
	if !l.HasErrors() {
		return nil
	}
	return ListError(l)
}

// ListError is a List used as an error.
type ListError List

func (e ListError) Error() string {
	var b strings.Builder
	for i, d := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}
