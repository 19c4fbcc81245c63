package convert

import (
	"strconv"
	"strings"
)

// Error is a conversion failure: the event does not match its contract. Field is the path of
// the offending field in proto names ("device.model", "tags[2]", "attrs[\"k\"]"), empty when
// the problem is the document itself; Message says what is wrong. Every error Plan.Append returns
// is an *Error.
type Error struct {
	Field   string
	Message string
	// Limit is set when the event broke a size or depth limit rather than the contract.
	Limit bool
	// segs are path segments, innermost first, joined when the error leaves Append.
	segs []string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return "convert: " + e.Message
	}
	return "convert: " + e.Field + ": " + e.Message
}

func errorf(msg string) *Error { return &Error{Message: msg} }

func limitErr(msg string) *Error { return &Error{Message: msg, Limit: true} }

// in adds a field name to the path as the error leaves a field.
func (e *Error) in(name string) *Error {
	if name == "" {
		name = `""`
	}
	e.segs = append(e.segs, name)
	return e
}

// at adds a list index to the path.
func (e *Error) at(i int) *Error {
	e.segs = append(e.segs, "["+strconv.Itoa(i)+"]")
	return e
}

// key adds a map key to the path.
func (e *Error) key(k string) *Error {
	e.segs = append(e.segs, "["+strconv.Quote(k)+"]")
	return e
}

func (e *Error) finish() *Error {
	var b strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		s := e.segs[i]
		if b.Len() > 0 && (s == "" || s[0] != '[') {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	e.Field = b.String()
	e.segs = nil
	return e
}
