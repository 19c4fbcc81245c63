// Package tail reads an event's Kafka topic and decodes each record with the descriptor its
// evctl-schema header names (read from the descriptor store once per sha256), producing one
// JSON-ready Line per record. A record that cannot be decoded (no header, an unknown schema, a
// corrupt value) becomes a Line carrying the reason, never an error that stops the read. It
// only reads: it joins no consumer group and commits nothing.
package tail
