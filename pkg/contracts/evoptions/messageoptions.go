package evoptions

import "google.golang.org/protobuf/types/descriptorpb"

// MessageOptionsEvent is MessageEvent and MessageStage read from a message's options as decoded
// (a descriptor set's DescriptorProto), before any descriptor is built: a baseline set is
// searched for its events this way without building every file (pkg/contracts/breaking).
func MessageOptionsEvent(opts *descriptorpb.MessageOptions) (event, stage string) {
	if opts == nil {
		return "", ""
	}
	e, _ := lookup(opts, messageEvent)
	s, _ := lookup(opts, messageEvtStage)
	return string(e.bytes), string(s.bytes)
}
