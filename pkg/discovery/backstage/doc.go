// Package backstage renders the contracts repository as Backstage catalog entities: a kind API
// per event (its effective .proto as the definition), a kind Group per team, one kind System for
// the catalog and a kind Location listing the files. It builds values and YAML bytes only; it
// never writes files, reads the network or knows about the CLI.
package backstage
