package transform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Limits on one template and one render.
const (
	MaxTemplateSize = 64 << 10
	MaxOutput       = 1 << 20
	MaxRangeDepth   = 2
	DefaultTimeout  = time.Second
)

// Template is a parsed, vetted consumer template.
type Template struct {
	t *template.Template
}

// Options tune parsing; the zero value is what evctl route uses.
type Options struct {
	// Now is the clock of the now function (tests fix it); time.Now when nil.
	Now func() time.Time
}

// Error is a problem at a line and column of the template text (1-based; Col 0 when text/template
// reports only the line).
type Error struct {
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("transform: line %d, column %d: %s", e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("transform: line %d: %s", e.Line, e.Msg)
}

// text/template reports "template: NAME:LINE: msg" or "template: NAME:LINE:COL: msg".
var parseErrRE = regexp.MustCompile(`^template: [^:]*:(\d+):(?:(\d+):)? ?(.*)$`)

// Parse parses text. Beyond text/template's own checks it refuses what could make a render
// unbounded: define, template and block (recursion), ranging over anything but a field or
// variable (a number would loop that many times), and ranges nested deeper than MaxRangeDepth.
func Parse(text string, opts Options) (*Template, error) {
	if len(text) > MaxTemplateSize {
		return nil, &Error{Line: 1, Msg: fmt.Sprintf("the template is %d bytes; the limit is %d", len(text), MaxTemplateSize)}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	t, err := template.New("transform").Option("missingkey=error").Funcs(funcs(now)).Parse(text)
	if err != nil {
		return nil, toError(err)
	}
	if len(t.Templates()) > 1 {
		return nil, &Error{Line: 1, Msg: "define and block are not allowed in a consumer template"}
	}
	if t.Tree == nil || t.Root == nil {
		return &Template{t: t}, nil
	}
	if err := vet(t.Tree, t.Root, 0); err != nil {
		return nil, err
	}
	return &Template{t: t}, nil
}

func toError(err error) *Error {
	msg := err.Error()
	if m := parseErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		return &Error{Line: line, Col: col, Msg: m[3]}
	}
	return &Error{Line: 1, Msg: strings.TrimPrefix(msg, "template: ")}
}

// nodeError places a message at a node.
func nodeError(tree *parse.Tree, n parse.Node, format string, args ...any) *Error {
	line, col := nodePos(tree, n)
	return &Error{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func nodePos(tree *parse.Tree, n parse.Node) (int, int) {
	loc, _ := tree.ErrorContext(n) // "transform:LINE:COL"
	parts := strings.Split(loc, ":")
	if len(parts) < 3 {
		return 1, 0
	}
	line, _ := strconv.Atoi(parts[len(parts)-2])
	col, _ := strconv.Atoi(parts[len(parts)-1])
	return line, col + 1 // ErrorContext's column is 0-based
}

func vet(tree *parse.Tree, n parse.Node, ranges int) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := vet(tree, c, ranges); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		return nodeError(tree, n, "{{template}} is not allowed in a consumer template")
	case *parse.RangeNode:
		if ranges+1 > MaxRangeDepth {
			return nodeError(tree, n, "ranges nest deeper than %d", MaxRangeDepth)
		}
		if !rangeable(n.Pipe) {
			return nodeError(tree, n, "range takes a field or a variable (a list of the event), not %s", n.Pipe)
		}
		if err := vet(tree, n.List, ranges+1); err != nil {
			return err
		}
		return vet(tree, n.ElseList, ranges)
	case *parse.IfNode:
		if err := vet(tree, n.List, ranges); err != nil {
			return err
		}
		return vet(tree, n.ElseList, ranges)
	case *parse.WithNode:
		if err := vet(tree, n.List, ranges); err != nil {
			return err
		}
		return vet(tree, n.ElseList, ranges)
	}
	return nil
}

// rangeable: the ranged pipeline is one command of one field, chain or variable.
func rangeable(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode, *parse.VariableNode, *parse.ChainNode, *parse.DotNode:
		return true
	}
	return false
}

// ErrTooLarge is returned when a render writes more than its limit.
var ErrTooLarge = errors.New("transform: the rendered body is larger than the limit")

// limitWriter fails once more than max bytes are written, which also stops a loop that writes.
type limitWriter struct {
	buf []byte
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > w.max {
		return 0, ErrTooLarge
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// Render executes the template on data with at most max bytes of output (MaxOutput when 0)
// and within ctx's deadline (DefaultTimeout when ctx has none). text/template cannot be
// interrupted: a render past its deadline is abandoned to finish on its own goroutine; Parse's
// limits (no recursion, ranges only over the event's lists, nested at most twice) bound how
// long that can take.
func (t *Template) Render(ctx context.Context, data any, max int) ([]byte, error) {
	if max <= 0 {
		max = MaxOutput
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned render still finishes and exits
	go func() {
		w := &limitWriter{max: max}
		err := t.t.Execute(w, data)
		done <- result{w.buf, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			if errors.Is(r.err, ErrTooLarge) {
				return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, max)
			}
			return nil, fmt.Errorf("transform: %s", strings.TrimPrefix(r.err.Error(), "template: "))
		}
		return r.out, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("transform: render did not finish: %w", ctx.Err())
	}
}

// IsJSON reports whether a rendered body is JSON (Content-Type application/json), else it is
// sent as text/plain.
func IsJSON(body []byte) bool { return json.Valid(body) }
