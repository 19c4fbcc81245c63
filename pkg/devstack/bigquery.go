package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/data/ingest/bigquery/bqemulator"
)

// startBigQuery gives the local environment a BigQuery emulator when it names one
// (bigquery.endpoint_env): one already answering (findBigQueryEmulator) is used as it is;
// otherwise the installed goccy/bigquery-emulator is started on free loopback ports, with the
// environment's dataset, reading gs:// load-job sources from this stack's GCS server. Its REST
// address goes to the endpoint_env variable and its Storage Write API (gRPC) address to
// <endpoint_env>_GRPC, the variables apply and ingestion read.
//
// Without an emulator the stack still starts: BigQueryNote says why there is none, and plan,
// apply and ingestion leave the BigQuery tables out locally, as they do for ClickHouse. The
// emulator takes about 18 minutes of CPU to build once, and the rest of the stack is useful
// without it.
func (s *Stack) startBigQuery(ctx context.Context, env config.Environment, o Options) {
	name, addr := findBigQueryEmulator(ctx, env, o.Getenv)
	if name == "" {
		return // no emulator named: nothing to do (real BigQuery, or none)
	}
	if addr != "" {
		s.Vars[name] = addr
		if g := o.Getenv(name + "_GRPC"); g != "" {
			s.Vars[name+"_GRPC"] = g
		} else {
			s.BigQueryNote = fmt.Sprintf("bigquery: using the emulator at %s; set %s_GRPC to its --grpc-port address for streaming ingestion", addr, name)
		}
		return
	}
	if o.NoBigQueryEmulator {
		return
	}
	bin, err := bqemulator.Find(o.Project.Root)
	if err != nil {
		s.BigQueryNote = "bigquery: no emulator running and none installed (scripts/install-bigquery-emulator.sh builds it once, about 18 minutes; make test runs it); bigquery_table resources and BigQuery ingestion are skipped locally"
		return
	}
	logs, err := os.OpenFile(filepath.Join(o.Dir, "bigquery.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		s.BigQueryNote = "bigquery: " + err.Error()
		return
	}
	e, err := bqemulator.Start(ctx, bqemulator.Options{Bin: bin, Project: env.BigQuery.Project, Dataset: env.BigQuery.Dataset,
		GCSHost: s.GCSAddr, Logs: logs})
	if err != nil {
		logs.Close()
		s.BigQueryNote = fmt.Sprintf("bigquery: %v (see %s); bigquery_table resources and BigQuery ingestion are skipped locally", err, logs.Name())
		return
	}
	s.BigQueryEmulator, s.bqLogs = e, logs
	s.Vars[name] = e.REST
	s.Vars[name+"_GRPC"] = e.GRPC
}

func (s *Stack) stopBigQuery() {
	if s.BigQueryEmulator != nil {
		s.BigQueryEmulator.Stop()
		s.BigQueryEmulator = nil
	}
	if s.bqLogs != nil {
		_ = s.bqLogs.Close()
		s.bqLogs = nil
	}
}
