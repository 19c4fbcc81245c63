package delta

import (
	"bytes"
	"encoding/json"
	"math"
	"time"

	"github.com/parquet-go/parquet-go"
)

// maxStatString bounds string min/max statistics: longer values are left out rather than
// truncated (a truncated max would be wrong for data skipping).
const maxStatString = 64

type colStats struct {
	min, max parquet.Value
	has      bool
	nulls    int64
}

// fileStats are the statistics of one data file (Delta's per-file stats).
type fileStats struct {
	rows int64
	cols []colStats
}

func (st *fileStats) add(s *shredder) {
	if st.cols == nil {
		st.cols = make([]colStats, len(s.l.stats))
	}
	st.rows++
	for i, n := range s.l.stats {
		v := s.topValue(n)
		c := &st.cols[i]
		if v.IsNull() {
			c.nulls++
			continue
		}
		if !hasMinMax(n.conv) {
			continue
		}
		if !c.has {
			c.min, c.max, c.has = v.Clone(), v.Clone(), true
			continue
		}
		if less(n.conv, v, c.min) {
			c.min = v.Clone()
		}
		if less(n.conv, c.max, v) {
			c.max = v.Clone()
		}
	}
}

func hasMinMax(c conv) bool {
	switch c {
	case cBool, cBytes, cJSON:
		return false
	}
	return true
}

func less(c conv, a, b parquet.Value) bool {
	switch c {
	case cInt32, cSint32, cDate:
		return a.Int32() < b.Int32()
	case cInt64, cSint64, cTimestamp:
		return a.Int64() < b.Int64()
	case cFloat:
		return a.Float() < b.Float()
	case cDouble:
		return a.Double() < b.Double()
	}
	return bytes.Compare(a.ByteArray(), b.ByteArray()) < 0 // strings, enums, non-negative decimals
}

// json renders the stats string of an add action.
func (st *fileStats) json(l *layout) string {
	out := struct {
		NumRecords int64          `json:"numRecords"`
		MinValues  map[string]any `json:"minValues"`
		MaxValues  map[string]any `json:"maxValues"`
		NullCount  map[string]any `json:"nullCount"`
	}{st.rows, map[string]any{}, map[string]any{}, map[string]any{}}
	for i, n := range l.stats {
		if i >= len(st.cols) {
			break
		}
		c := st.cols[i]
		out.NullCount[n.name] = c.nulls
		if !c.has {
			continue
		}
		lo, okLo := statValue(n.conv, c.min, false)
		hi, okHi := statValue(n.conv, c.max, true)
		if okLo && okHi {
			out.MinValues[n.name], out.MaxValues[n.name] = lo, hi
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// statValue is a min or max as Delta writes it: numbers, strings, dates as YYYY-MM-DD and
// timestamps in milliseconds (a max is rounded up so it still bounds the micros).
func statValue(c conv, v parquet.Value, isMax bool) (any, bool) {
	switch c {
	case cInt32, cSint32:
		return v.Int32(), true
	case cInt64, cSint64:
		return v.Int64(), true
	case cFloat:
		f := float64(v.Float())
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	case cDouble:
		f := v.Double()
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	case cUint64:
		return json.Number(valueText(c, v)), true
	case cDate:
		return valueText(c, v), true
	case cTimestamp:
		us := v.Int64()
		ms := us / 1000
		if isMax && us%1000 != 0 {
			ms++
		}
		return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z"), true
	}
	b := v.ByteArray()
	return string(b), len(b) <= maxStatString
}
