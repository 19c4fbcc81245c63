package bigquery_test

import (
	"fmt"
	"testing"

	bq "cloud.google.com/go/bigquery"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/bigquery"
	"github.com/evctl/evctl/pkg/control/sink/sinktest"
)

// TestEmulatorConformance runs the shared sink suite against the BigQuery emulator. Changes by
// hand and foreign tables are made through the emulator's own API.
func TestEmulatorConformance(t *testing.T) {
	s, raw := emulatorSink(t)
	md := everything(t)
	table := func(t *testing.T, n int) sink.Desired {
		return desired(spec(t, md, fmt.Sprintf("suite_%d", n), "staging"), "staging")
	}
	sinktest.Run(t, sinktest.Case{
		Sink: s,
		New:  table,
		Drift: func(t *testing.T, d sink.Desired) {
			// A column dropped by hand: apply adds it back (an update). A column added by hand
			// would be drift only, since apply cannot drop it (issue 18).
			byHand(t, raw, specOf(d), func(m *bq.TableMetadata) {
				m.Schema = m.Schema[:len(m.Schema)-1]
			})
		},
		// Someone creates the table by hand, differently, between the plan and the apply: the
		// create meets it (409) and refuses to take it over.
		Bad: func(t *testing.T, n int) (sink.Desired, func(*testing.T)) {
			d := table(t, n)
			return d, func(t *testing.T) {
				byHandCreate(t, raw, specOf(d))
			}
		},
		// A table made by hand (no evctl labels) under the name evctl would use.
		Foreign: func(t *testing.T, n int) sink.Desired {
			d := table(t, n)
			byHandCreate(t, raw, specOf(d))
			return d
		},
	})
}

// specOf is the table spec of a wanted table.
func specOf(d sink.Desired) bigquery.TableSpec { return d.Spec.(bigquery.TableSpec) }
