package convert

import (
	"strconv"
	"strings"
	"unicode/utf8"
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

// maxEcho is how much of a bad value (or of an unknown name) an error repeats: enough to
// recognise it, never the whole of a 4 MB number in a 400 response.
const maxEcho = 64

// cut returns b as a string, shortened to maxEcho bytes (on a UTF-8 boundary) with a note of
// its full length.
func cut(b []byte) string {
	if len(b) <= maxEcho {
		return string(b)
	}
	n := maxEcho
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "... (" + strconv.Itoa(len(b)) + " bytes)"
}

// quoteCut is cut, quoted.
func quoteCut(b []byte) string {
	if len(b) <= maxEcho {
		return strconv.Quote(string(b))
	}
	s := cut(b)
	i := strings.LastIndex(s, "... (")
	return strconv.Quote(s[:i]) + s[i:]
}
