package delta

import (
	"bytes"
	"encoding/json"
	"math"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// maxStatString bounds string min/max statistics: longer values are left out rather than
// truncated (a truncated max would be wrong for data skipping).
const maxStatString = 64

type colStats struct {
	min, max parquet.Value
	has      bool
	broken   bool // a row group without bounds: min/max unknown
	nulls    int64
}

// fileStats are the statistics of one data file (Delta's per-file stats).
type fileStats struct {
	rows int64
	cols []colStats
}

// fromFile reads the statistics of a written file from its Parquet footer: parquet-go computes
// each page's bounds and null count as it encodes (on the encoder goroutine), so the worker's
// goroutine does not compare every value of every record again.
func (st *fileStats) fromFile(l *layout, md *format.FileMetaData, rows int64) {
	st.rows = rows
	st.cols = make([]colStats, len(l.stats))
	for _, rg := range md.RowGroups {
		for i, n := range l.stats {
			if n.col >= len(rg.Columns) {
				continue
			}
			cs := rg.Columns[n.col].MetaData.Statistics
			c := &st.cols[i]
			c.nulls += cs.NullCount
			if n.field == nil || !hasMinMax(n.conv) || cs.NullCount >= rg.NumRows {
				continue
			}
			lo, okLo := statBound(n.pkind, cs.MinValue)
			hi, okHi := statBound(n.pkind, cs.MaxValue)
			if !okLo || !okHi {
				c.broken = true // bounds unknown for this row group: leave the column out
				continue
			}
			if !c.has {
				c.min, c.max, c.has = lo, hi, true
				continue
			}
			if less(n.conv, lo, c.min) {
				c.min = lo
			}
			if less(n.conv, c.max, hi) {
				c.max = hi
			}
		}
	}
}

// statBound decodes a footer min or max (plain encoding) of a column of kind k.
func statBound(k parquet.Kind, b []byte) (parquet.Value, bool) {
	if b == nil {
		return parquet.Value{}, false
	}
	size := -1 // any length
	switch k {
	case parquet.Int32, parquet.Float:
		size = 4
	case parquet.Int64, parquet.Double:
		size = 8
	case parquet.FixedLenByteArray:
		size = decimalBytes
	case parquet.ByteArray:
	default:
		return parquet.Value{}, false
	}
	if size >= 0 && len(b) != size {
		return parquet.Value{}, false // Kind.Value would panic
	}
	return k.Value(b), true
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
		if !c.has || c.broken {
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
