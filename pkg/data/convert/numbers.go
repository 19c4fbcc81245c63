package convert

import (
	"math"
	"strconv"
	"time"
)

// parseInt is protojson's Token.Int: an integer, possibly written with a fraction or an
// exponent ("1.0", "1e2"), that fits bits.
func parseInt(raw []byte, bits int) (int64, bool) {
	// Fast path: plain digits, short enough not to overflow int64.
	neg := len(raw) > 0 && raw[0] == '-'
	digits := raw
	if neg {
		digits = raw[1:]
	}
	if len(digits) > 0 && len(digits) <= 18 {
		var v int64
		plain := true
		for _, c := range digits {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			v = v*10 + int64(c-'0')
		}
		if plain {
			if neg {
				v = -v
			}
			if bits == 32 && (v < math.MinInt32 || v > math.MaxInt32) {
				return 0, false
			}
			return v, true
		}
	}
	var buf [24]byte
	s, ok := intString(raw, buf[:0])
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(ustr(s), 10, bits)
	return v, err == nil
}

// parseUint is protojson's Token.Uint.
func parseUint(raw []byte, bits int) (uint64, bool) {
	if len(raw) > 0 && len(raw) <= 19 && raw[0] != '-' {
		var v uint64
		plain := true
		for _, c := range raw {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			v = v*10 + uint64(c-'0')
		}
		if plain {
			if bits == 32 && v > math.MaxUint32 {
				return 0, false
			}
			return v, true
		}
	}
	var buf [24]byte
	s, ok := intString(raw, buf[:0])
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(ustr(s), 10, bits)
	return v, err == nil
}

// intString is protojson's parseNumberParts + normalizeToIntString, appending to buf (which
// has room for every result that can parse, 20 digits and a sign).
func intString(raw []byte, buf []byte) ([]byte, bool) {
	s := raw
	if len(s) == 0 {
		return nil, false
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
		if len(s) == 0 {
			return nil, false
		}
	}
	var intp, frac, exp []byte
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		n := 1
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		intp, s = s[:n], s[n:]
	default:
		return nil, false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		n := 2
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		frac, s = s[1:n], s[n:]
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		n := 0
		if s[0] == '+' || s[0] == '-' {
			n++
			if len(s) == 1 {
				return nil, false
			}
		}
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		exp = s[:n]
	}
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if len(intp) == 0 && len(frac) == 0 {
		return append(buf, '0'), true
	}
	e := 0
	if len(exp) > 0 {
		i, err := strconv.ParseInt(ustr(exp), 10, 32)
		if err != nil {
			return nil, false
		}
		e = int(i)
	}
	if neg {
		buf = append(buf, '-')
	}
	if e >= 0 {
		if len(frac) > e || len(intp)+e > 20 {
			return nil, false
		}
		buf = append(buf, intp...)
		buf = append(buf, frac...)
		for i := 0; i < e-len(frac); i++ {
			buf = append(buf, '0')
		}
		return buf, true
	}
	if len(frac) > 0 {
		return nil, false
	}
	idx := len(intp) + e
	if idx < 0 {
		return nil, false
	}
	for _, c := range intp[idx:] {
		if c != '0' {
			return nil, false
		}
	}
	return append(buf, intp[:idx]...), true
}

// parseFloat is protojson's Token.Float.
func parseFloat(raw []byte, bits int) (float64, bool) {
	f, err := strconv.ParseFloat(ustr(raw), bits)
	return f, err == nil
}

// quotedNumber reports whether a decoded JSON string is, in full, one JSON number token:
// what protojson accepts for numbers written as strings.
func quotedNumber(s []byte) bool {
	n, ok := numberLen(s)
	return ok && n == len(s)
}

const (
	maxTimestampSeconds  = 253402300799
	minTimestampSeconds  = -62135596800
	maxSecondsInDuration = 315576000000
)

// parseTimestamp is protojson's Timestamp parsing: RFC 3339 with a required zone, at most nine
// fractional digits, years 1 to 9999. The common form (UTC, "Z") is parsed here; any other goes
// through time.Parse as protojson does.
func parseTimestamp(s []byte) (secs int64, nanos int32, ok bool) {
	if secs, nanos, ok := fastTimestamp(s); ok {
		return secs, nanos, true
	}
	t, err := time.Parse(time.RFC3339Nano, ustr(s))
	if err != nil {
		return 0, 0, false
	}
	secs = t.Unix()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds {
		return 0, 0, false
	}
	i, j := -1, -1
	for k := len(s) - 1; k >= 0; k-- {
		if i < 0 && s[k] == '.' {
			i = k
		}
		if j < 0 && (s[k] == 'Z' || s[k] == '-' || s[k] == '+') {
			j = k
		}
	}
	if i >= 0 && j >= i && j-i > len(".999999999") {
		return 0, 0, false
	}
	return secs, int32(t.Nanosecond()), true
}

// fastTimestamp parses exactly "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z", a form time.Parse accepts with
// the same result; anything else reports false and takes the slow path.
func fastTimestamp(s []byte) (int64, int32, bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, 0, false
	}
	d := func(i int) (int, bool) {
		a, b := s[i], s[i+1]
		if a < '0' || a > '9' || b < '0' || b > '9' {
			return 0, false
		}
		return int(a-'0')*10 + int(b-'0'), true
	}
	y1, ok1 := d(0)
	y2, ok2 := d(2)
	mo, ok3 := d(5)
	dd, ok4 := d(8)
	hh, ok5 := d(11)
	mi, ok6 := d(14)
	ss, ok7 := d(17)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return 0, 0, false
	}
	year := y1*100 + y2
	if year < 1 || mo < 1 || mo > 12 || dd < 1 || dd > daysIn(mo, year) || hh > 23 || mi > 59 || ss > 59 {
		return 0, 0, false
	}
	var nanos int32
	rest := s[19 : len(s)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return 0, 0, false
		}
		scale := int32(100000000)
		for _, c := range rest[1:] {
			if c < '0' || c > '9' {
				return 0, 0, false
			}
			nanos += int32(c-'0') * scale
			scale /= 10
		}
	}
	t := time.Date(year, time.Month(mo), dd, hh, mi, ss, 0, time.UTC)
	return t.Unix(), nanos, true
}

func daysIn(m, year int) int {
	switch m {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseDuration is protojson's Duration parsing ("1.5s", "-0.001s"), with its range check.
func parseDuration(b []byte) (int64, int32, bool) {
	size := len(b)
	if size < 2 || b[size-1] != 's' {
		return 0, 0, false
	}
	b = b[:size-1]
	neg := false
	switch b[0] {
	case '-':
		neg, b = true, b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, 0, false
	}
	var intp []byte
	switch {
	case b[0] == '0':
		b = b[1:]
	case '1' <= b[0] && b[0] <= '9':
		n := 1
		for n < len(b) && '0' <= b[n] && b[n] <= '9' {
			n++
		}
		intp, b = b[:n], b[n:]
	case b[0] == '.':
	default:
		return 0, 0, false
	}
	var nanos int64
	if len(b) > 0 {
		if b[0] != '.' {
			return 0, 0, false
		}
		b = b[1:]
		n := 0
		scale := int64(100000000)
		for len(b) > 0 && n < 9 && '0' <= b[0] && b[0] <= '9' {
			nanos += int64(b[0]-'0') * scale
			scale /= 10
			n++
			b = b[1:]
		}
		if len(b) > 0 {
			return 0, 0, false
		}
	}
	var secs int64
	if len(intp) > 0 {
		v, err := strconv.ParseInt(ustr(intp), 10, 64)
		if err != nil {
			return 0, 0, false
		}
		secs = v
	}
	if neg {
		secs, nanos = -secs, -nanos
	}
	if secs < -maxSecondsInDuration || secs > maxSecondsInDuration {
		return 0, 0, false
	}
	return secs, int32(nanos), true
}
