// Package readcache serves counter reads (the gateway's GET /v1/counters/{counter}/{key}) from
// memory, kept fresh by the counters' changelog topics, and reads through to the counter store
// for a key it does not hold.
//
// A counter's value changes only when the count worker writes a closed window to the store, and
// each write is followed by a changelog record with the key's new value (SPEC-dataplane 12). The
// cache tails the changelog topics from where they end when it starts and applies every record
// it reads, so what it holds is the store's value as of the last changelog record consumed. It
// serves from memory only while it has confirmed, within MaxStale, that it had consumed every
// changelog record that existed (a broker out of reach or a consumer fallen behind sends reads to
// the store until it catches up again). Kafka Streams' interactive queries over a changelog-fed
// store make the same trade.
//
// It must not write to the store or to Kafka.
package readcache
