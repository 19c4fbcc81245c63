package convert

import (
	"encoding/binary"
	"math/bits"
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
	if d.pos < len(d.in) && d.in[d.pos] > ' ' {
		return // the common case: no whitespace at all
	}
	d.wsSlow()
}

func (d *decoder) wsSlow() {
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
	if d.pos < len(d.in) && d.in[d.pos] > ' ' {
		return d.in[d.pos]
	}
	d.wsSlow()
	if d.pos < len(d.in) {
		return d.in[d.pos]
	}
	return 0
}

// notDelim holds the bytes that continue a number or literal token (isNotDelim).
var notDelim = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = isNotDelim(byte(c))
	}
	return t
}()

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
	in := d.in
	start := d.pos + 1
	if start <= len(in) && in[start-1] == '"' {
		// The common case: ASCII without escapes, a view of the input.
		i, high := scanString(in, start)
		if i < len(in) && in[i] == '"' && high == 0 && i-start <= d.maxString {
			d.pos = i + 1
			return in[start:i], nil
		}
	}
	return d.strSlow()
}

// strSlow is str for every other string: escapes, non-ASCII, errors.
func (d *decoder) strSlow() ([]byte, *Error) {
	if d.pos >= len(d.in) || d.in[d.pos] != '"' {
		return nil, d.syntax("want a string")
	}
	start := d.pos + 1
	in := d.in
	i, high := scanString(in, start)
	ascii := high == 0
	if i < len(in) {
		if c := in[i]; c == '"' {
			b := in[start:i]
			if !ascii && !utf8.Valid(b) {
				return nil, d.syntax("invalid UTF-8 in string")
			}
			d.pos = i + 1
			if len(b) > d.maxString {
				return nil, limitErr("string longer than " + strconv.Itoa(d.maxString) + " bytes")
			}
			return b, nil
		} else if c < 0x20 {
			d.pos = i
			return nil, d.syntax("control character in string")
		}
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
			j, high := scanString(in, i)
			if high != 0 && !utf8.Valid(in[i:j]) {
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

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// scanString returns the index of the first '"', '\\' or control character at or after i (or
// len(in)), and, in high, the or of the bytes before it masked to their top bits: zero when they
// are all ASCII. It looks at 8 bytes at a time (SWAR): for each test the lowest flagged byte is
// exact; borrows can only flag bytes above it.
func scanString(in []byte, i int) (int, uint64) {
	var high uint64
	for ; i+8 <= len(in); i += 8 {
		x := binary.LittleEndian.Uint64(in[i:])
		q := x ^ (lsb * '"')
		b := x ^ (lsb * '\\')
		m := ((q - lsb) &^ q) | ((b - lsb) &^ b) | ((x - lsb*0x20) &^ x)
		m &= msb
		if m != 0 {
			k := bits.TrailingZeros64(m) >> 3
			high |= x & (1<<(8*uint(k)) - 1) // k < 8
			return i + k, high & msb
		}
		high |= x
	}
	for ; i < len(in); i++ {
		c := in[i]
		if c == '"' || c == '\\' || c < 0x20 {
			break
		}
		high |= uint64(c)
	}
	return i, high & msb
}
