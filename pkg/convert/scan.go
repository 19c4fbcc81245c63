package convert

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// The scanner accepts exactly the JSON that protojson's decoder accepts, including its number
// grammar (a number token ends at a delimiter, as google.golang.org/protobuf/internal/encoding/json
// defines it), so that both accept and reject the same documents.

// ws skips JSON whitespace.
func (d *decoder) ws() {
	for d.pos < len(d.in) {
		switch d.in[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.pos < len(d.in) {
		return d.in[d.pos]
	}
	return 0
}

func isNotDelim(c byte) bool {
	return c == '-' || c == '+' || c == '.' || c == '_' ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// literal consumes s (null, true, false) if it is next and followed by a delimiter.
func (d *decoder) literal(s string) bool {
	in := d.in[d.pos:]
	if len(in) < len(s) || string(in[:len(s)]) != s {
		return false
	}
	if len(in) > len(s) && isNotDelim(in[len(s)]) {
		return false
	}
	d.pos += len(s)
	return true
}

func (d *decoder) syntax(what string) *Error {
	if d.pos >= len(d.in) {
		return errorf("invalid JSON: unexpected end of input")
	}
	return errorf("invalid JSON at offset " + strconv.Itoa(d.pos) + ": " + what)
}

// numberLen is protojson's parseNumber: the length of the number token at the start of s.
func numberLen(s []byte) (int, bool) {
	in := s
	n := 0
	if len(s) == 0 {
		return 0, false
	}
	if s[0] == '-' {
		s, n = s[1:], n+1
		if len(s) == 0 {
			return 0, false
		}
	}
	switch {
	case s[0] == '0':
		s, n = s[1:], n+1
	case '1' <= s[0] && s[0] <= '9':
		s, n = s[1:], n+1
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s, n = s[1:], n+1
		}
	default:
		return 0, false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s, n = s[2:], n+2
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s, n = s[1:], n+1
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s, n = s[1:], n+1
		if s[0] == '+' || s[0] == '-' {
			s, n = s[1:], n+1
			if len(s) == 0 {
				return 0, false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s, n = s[1:], n+1
		}
	}
	if n < len(in) && isNotDelim(in[n]) {
		return 0, false
	}
	return n, true
}

// number consumes a number token and returns its text.
func (d *decoder) number() ([]byte, bool) {
	n, ok := numberLen(d.in[d.pos:])
	if !ok {
		return nil, false
	}
	b := d.in[d.pos : d.pos+n]
	d.pos += n
	return b, true
}

// str consumes a JSON string and returns its decoded bytes: a view of the input when it has no
// escapes, else of the decoder's scratch buffer, valid until the next call.
func (d *decoder) str() ([]byte, *Error) {
	if d.pos >= len(d.in) || d.in[d.pos] != '"' {
		return nil, d.syntax("want a string")
	}
	start := d.pos + 1
	i := start
	in := d.in
	ascii := true
	for i < len(in) {
		c := in[i]
		if c == '"' {
			b := in[start:i]
			if !ascii && !utf8.Valid(b) {
				return nil, d.syntax("invalid UTF-8 in string")
			}
			d.pos = i + 1
			if len(b) > d.maxString {
				return nil, limitErr("string longer than " + strconv.Itoa(d.maxString) + " bytes")
			}
			return b, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			d.pos = i
			return nil, d.syntax("control character in string")
		}
		if c >= 0x80 {
			ascii = false
		}
		i++
	}
	if i >= len(in) {
		d.pos = i
		return nil, d.syntax("unterminated string")
	}
	if !ascii && !utf8.Valid(in[start:i]) {
		d.pos = i
		return nil, d.syntax("invalid UTF-8 in string")
	}
	out := append(d.scratch[:0], in[start:i]...)
	for i < len(in) {
		c := in[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.scratch = out
			if len(out) > d.maxString {
				return nil, limitErr("string longer than " + strconv.Itoa(d.maxString) + " bytes")
			}
			return out, nil
		case c == '\\':
			if i+1 >= len(in) {
				d.pos = len(in)
				return nil, d.syntax("unterminated string")
			}
			switch e := in[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(in[i+2:])
				if !ok {
					d.pos = i
					return nil, d.syntax("invalid escape in string")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					var r2 rune
					ok := i+6 <= len(in) && in[i] == '\\' && in[i+1] == 'u'
					if ok {
						r2, ok = hex4(in[i+2:])
					}
					if ok {
						r = utf16.DecodeRune(r, r2)
					} else {
						r = utf8.RuneError
					}
					if r == utf8.RuneError {
						d.pos = i
						return nil, d.syntax("invalid surrogate escape in string")
					}
					i += 6
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				d.pos = i
				return nil, d.syntax("invalid escape in string")
			}
			i += 2
		case c < 0x20:
			d.pos = i
			return nil, d.syntax("control character in string")
		default:
			j := i + 1
			for j < len(in) && in[j] != '"' && in[j] != '\\' && in[j] >= 0x20 {
				j++
			}
			if !utf8.Valid(in[i:j]) {
				d.pos = i
				return nil, d.syntax("invalid UTF-8 in string")
			}
			out = append(out, in[i:j]...)
			i = j
		}
	}
	d.pos = len(in)
	d.scratch = out
	return nil, d.syntax("unterminated string")
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// skip consumes one JSON value of any shape, checking its syntax (unknown fields being dropped).
func (d *decoder) skip(depth int) *Error {
	if depth > d.maxDepth {
		return limitErr("nesting deeper than " + strconv.Itoa(d.maxDepth))
	}
	switch c := d.peek(); c {
	case '{':
		d.pos++
		if d.peek() == '}' {
			d.pos++
			return nil
		}
		for {
			d.ws()
			if _, err := d.str(); err != nil {
				return err
			}
			if d.peek() != ':' {
				return d.syntax("want ':'")
			}
			d.pos++
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case '}':
				d.pos++
				return nil
			default:
				return d.syntax("want ',' or '}'")
			}
		}
	case '[':
		d.pos++
		if d.peek() == ']' {
			d.pos++
			return nil
		}
		for {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case ']':
				d.pos++
				return nil
			default:
				return d.syntax("want ',' or ']'")
			}
		}
	case '"':
		_, err := d.str()
		return err
	case 'n':
		if d.literal("null") {
			return nil
		}
	case 't':
		if d.literal("true") {
			return nil
		}
	case 'f':
		if d.literal("false") {
			return nil
		}
	default:
		if _, ok := d.number(); ok {
			return nil
		}
	}
	return d.syntax("invalid value")
}

// ustr views b as a string without copying; the string must not outlive b's next change.
func ustr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
