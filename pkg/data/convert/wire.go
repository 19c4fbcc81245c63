package convert

import "google.golang.org/protobuf/encoding/protowire"

// appendVarint is protowire.AppendVarint with the one-byte case (the tags of fields 1-15,
// short lengths, small numbers) inlined at the call site.
func appendVarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return appendVarintSlow(b, v)
}

//go:noinline
func appendVarintSlow(b []byte, v uint64) []byte {
	if v < 0x4000 {
		return append(b, byte(v)|0x80, byte(v>>7))
	}
	return protowire.AppendVarint(b, v)
}

// appendBytes appends a length-delimited value.
func appendBytes(b, v []byte) []byte {
	return append(appendVarint(b, uint64(len(v))), v...)
}
