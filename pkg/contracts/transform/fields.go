package transform

import (
	"fmt"
	"strings"
	"text/template/parse"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Ref is one event field a template names, as a path from the event ("user.id"; a list's
// elements as "items[].sku").
type Ref struct {
	Path      string
	Line, Col int
}

// scope is what dot is while walking: a record of the event (md), or something not checked
// (nil md: a scalar list element, a map value, a variable).
type scope struct {
	md   protoreflect.MessageDescriptor
	path string
}

// Check walks the template's parse tree for .field chains (and $.field from the root) and
// resolves each against md, the event's compiled message: it returns every field it names and
// every problem (a field the event lacks, a chain through something that is not a record, a
// range over something that is not a list). Dot is followed into range and with.
func (t *Template) Check(md protoreflect.MessageDescriptor) ([]Ref, []*Error) {
	c := &checker{tree: t.t.Tree, root: md}
	if t.t.Tree != nil {
		c.list(t.t.Root, scope{md: md})
	}
	return c.refs, c.errs
}

type checker struct {
	tree *parse.Tree
	root protoreflect.MessageDescriptor
	refs []Ref
	errs []*Error
}

func (c *checker) list(l *parse.ListNode, s scope) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		c.node(n, s)
	}
}

func (c *checker) node(n parse.Node, s scope) {
	switch n := n.(type) {
	case *parse.ActionNode:
		c.pipe(n.Pipe, s)
	case *parse.IfNode:
		c.pipe(n.Pipe, s)
		c.list(n.List, s)
		c.list(n.ElseList, s)
	case *parse.WithNode:
		fd, inner := c.pipe(n.Pipe, s)
		if fd != nil && fd.Message() != nil && !scalarMessage(fd.Message()) && !fd.IsList() && !fd.IsMap() {
			c.list(n.List, inner)
		} else {
			c.list(n.List, scope{})
		}
		c.list(n.ElseList, s)
	case *parse.RangeNode:
		fd, inner := c.pipe(n.Pipe, s)
		elem := scope{}
		if fd != nil {
			switch {
			case fd.IsList() && fd.Message() != nil && !scalarMessage(fd.Message()):
				elem = scope{md: fd.Message(), path: inner.path + "[]"}
			case fd.IsList() || fd.IsMap():
			default:
				c.errorf(n, "range over %s, which is not a list", inner.path)
			}
		}
		c.list(n.List, elem)
		c.list(n.ElseList, s)
	}
}

// pipe checks every argument of a pipeline; when the pipeline is a single field it returns
// that field and its path (for range and with).
func (c *checker) pipe(p *parse.PipeNode, s scope) (protoreflect.FieldDescriptor, scope) {
	if p == nil {
		return nil, scope{}
	}
	var last protoreflect.FieldDescriptor
	var lastScope scope
	for _, cmd := range p.Cmds {
		for _, a := range cmd.Args {
			last, lastScope = c.arg(a, s)
		}
	}
	if len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1 {
		return last, lastScope
	}
	return nil, scope{}
}

func (c *checker) arg(a parse.Node, s scope) (protoreflect.FieldDescriptor, scope) {
	switch a := a.(type) {
	case *parse.FieldNode:
		return c.chain(a, s, a.Ident)
	case *parse.VariableNode:
		if len(a.Ident) > 1 && a.Ident[0] == "$" {
			return c.chain(a, scope{md: c.root}, a.Ident[1:])
		}
	case *parse.PipeNode:
		c.pipe(a, s)
	case *parse.ChainNode:
		if p, ok := a.Node.(*parse.PipeNode); ok {
			c.pipe(p, s)
		}
	}
	return nil, scope{}
}

// chain resolves .a.b.c from s, recording the reference and any problem.
func (c *checker) chain(n parse.Node, s scope, idents []string) (protoreflect.FieldDescriptor, scope) {
	if s.md == nil {
		return nil, scope{}
	}
	md, path := s.md, s.path
	var fd protoreflect.FieldDescriptor
	for i, id := range idents {
		if md == nil {
			c.errorf(n, "%s is not a record; it has no field %q", path, id)
			return nil, scope{}
		}
		fd = md.Fields().ByName(protoreflect.Name(id))
		p := join(path, id)
		if fd == nil {
			if path == "" {
				c.errorf(n, "the event has no field %q", id)
			} else {
				c.errorf(n, "%s has no field %q", path, id)
			}
			return nil, scope{}
		}
		path = p
		line, col := nodePos(c.tree, n)
		c.refs = append(c.refs, Ref{Path: path, Line: line, Col: col})
		md = nil
		switch {
		case fd.IsMap():
			return fd, scope{path: path} // keys are data, not fields: not checked
		case fd.IsList():
			if i < len(idents)-1 {
				c.errorf(n, "%s is a list; range over it to reach %q", path, idents[i+1])
				return nil, scope{}
			}
		case fd.Message() != nil && !scalarMessage(fd.Message()):
			md = fd.Message()
		}
	}
	return fd, scope{md: md, path: path}
}

func join(path, id string) string {
	if path == "" {
		return id
	}
	return path + "." + id
}

func (c *checker) errorf(n parse.Node, format string, args ...any) {
	line, col := nodePos(c.tree, n)
	msg := fmt.Sprintf(format, args...)
	for _, e := range c.errs {
		if e.Line == line && e.Col == col && e.Msg == msg {
			return
		}
	}
	c.errs = append(c.errs, &Error{Line: line, Col: col, Msg: strings.TrimSpace(msg)})
}
