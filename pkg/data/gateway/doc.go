// Package gateway is the ingestion gateway of SPEC section 6: HTTP routes for JSON events and
// NDJSON batches, and evctl.ingest.v1.IngestService over gRPC, gRPC-Web and Connect on the same
// port, converting each event against its published descriptor (pkg/data/convert) and producing it
// to Kafka (franz-go, acks=all, idempotent) before answering.
//
// The Registry loads the descriptor store's index.json, polls it and swaps the registry
// atomically; a broken update keeps the last good one and says so in logs, metrics and /readyz.
// An event's set is fetched and its converter built on the event's first request (Event.Load),
// not at start: a gateway in front of 10,000 events is ready once index.json is read and holds
// what is used. A reload keeps what unchanged events built and rebuilds only the changed events
// in use (Config.Preload builds every event up front instead).
//
// Records are produced by Kafka clients of at most Config.TopicsPerProducer topics each
// (producers.go): franz-go refreshes the metadata of all of a client's topics whenever it meets
// a new one, so one client for 10,000 topics made each type's first request cost a refresh of
// every topic in use. The runtime's profiles are served only on a listener of their own
// (ServeDebug, `evctl gateway --pprof-addr`).
//
// Which teams may produce an event, and which fields make its Kafka key, are not in the
// descriptor store (index.json's shape is fixed by the SPEC, and descriptors carry no access
// lists): the caller supplies them (Config.Producers, Config.Keys). `evctl gateway` fills them
// from the contracts repository it runs in, as `evctl apply` does.
//
// The package must not import pkg/cli, pkg/control/apply or pkg/control/plan, and it never writes to the
// descriptor store.
package gateway
