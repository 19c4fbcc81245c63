package bigquery

// ToMetadata exposes the tables.insert body of a spec, so the emulator tests can make tables
// "by hand" exactly as evctl would and then change one thing.
var ToMetadata = toMetadata
