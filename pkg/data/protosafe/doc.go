// Package protosafe owns decoding untrusted bytes into dynamic messages. The protobuf runtime
// panics on some malformed map entries of dynamicpb messages (a google.protobuf.Struct entry
// whose key has the wrong wire type: "cannot convert nil to map key"; FuzzHandle of the Delta
// writer found it). Record values, gRPC payloads and milestone records are untrusted, so every
// decoder of such bytes goes through Unmarshal here: a panic becomes the input's error.
package protosafe
