package clickhouse

import "context"

// CrashAfterFirstPartForTest writes the first month part of b as Write would, then calls crash
// (which kills the process) before anything else: the moment between a batch's parts and its
// record.
func CrashAfterFirstPartForTest(ctx context.Context, w *Writer, b Batch, crash func()) error {
	ms := months(b.Rows)
	if err := w.insert(ctx, b, b.Rows, ms[0]); err != nil {
		return err
	}
	crash()
	select {}
}
