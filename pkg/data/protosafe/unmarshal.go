package protosafe

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Unmarshal is opts.Unmarshal(b, m) with a panic of the protobuf runtime returned as an error.
func Unmarshal(opts proto.UnmarshalOptions, b []byte, m proto.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed message: %v", p)
		}
	}()
	return opts.Unmarshal(b, m)
}
