package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/data/convert"
	ingestv1 "github.com/evctl/evctl/pkg/data/gateway/ingestv1"
	"github.com/evctl/evctl/pkg/data/protosafe"
)

// rpcService implements evctl.ingest.v1.IngestService.
type rpcService struct{ g *Gateway }

var connectCodes = map[int]connect.Code{
	http.StatusBadRequest:            connect.CodeInvalidArgument,
	http.StatusNotFound:              connect.CodeNotFound,
	http.StatusRequestEntityTooLarge: connect.CodeResourceExhausted,
	http.StatusUnauthorized:          connect.CodeUnauthenticated,
	http.StatusForbidden:             connect.CodePermissionDenied,
	http.StatusServiceUnavailable:    connect.CodeUnavailable,
}

func (s *rpcService) fail(e *apiError) error {
	s.g.metrics.rejected.WithLabelValues(e.reason).Inc()
	return rpcError(e)
}

// rpcError is e as a Connect error with the code of its HTTP status.
func rpcError(e *apiError) *connect.Error {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	code, ok := connectCodes[e.status]
	if !ok {
		code = connect.CodeInternal
	}
	return connect.NewError(code, errors.New(msg))
}

func connectErrorWriter() errorWriter { return connect.NewErrorWriter() }

// Publish validates one event (binary or JSON) and returns once Kafka acknowledged it.
func (s *rpcService) Publish(ctx context.Context, req *connect.Request[ingestv1.PublishRequest]) (*connect.Response[ingestv1.PublishResponse], error) {
	g := s.g
	ev, aerr := g.lookup(ctx, req.Header(), req.Msg.GetEvent())
	if aerr != nil {
		return nil, s.fail(aerr)
	}
	var value []byte
	switch p := req.Msg.GetPayload().(type) {
	case *ingestv1.PublishRequest_Json:
		out, err := ev.Plan.Append(nil, []byte(p.Json))
		if err != nil {
			return nil, s.fail(convertError(err))
		}
		value = out
	case *ingestv1.PublishRequest_Proto:
		md, err := ev.Descriptor(ctx)
		if err != nil {
			g.log.Error("event descriptors unavailable", "event", ev.ID, "err", err)
			return nil, s.fail(refuse(http.StatusServiceUnavailable, reasonDescriptors, "", "the descriptors of "+ev.ID+" cannot be loaded, retry: "+err.Error()))
		}
		out, err := g.checkBinary(md, p.Proto)
		if err != nil {
			return nil, s.fail(refuse(http.StatusBadRequest, reasonInvalid, fieldOf(err), err.Error()))
		}
		value = out
	default:
		return nil, s.fail(refuse(http.StatusBadRequest, reasonInvalid, "", "no payload: set proto or json"))
	}
	f := getFlight()
	defer putFlight(f)
	f.add(ev, value, 0)
	if g.produce(ctx, f); f.err(0) != nil {
		return nil, s.fail(kafkaError(f.err(0)))
	}
	ev.accepted.Inc()
	resp := &ingestv1.PublishResponse{Accepted: 1}
	if ev.eventID.num != 0 {
		resp.EventId = string(appendField(nil, value, ev.eventID))
	}
	return connect.NewResponse(resp), nil
}

// checkBinary validates a binary payload against the contract (it must parse; unknown fields
// are refused unless the environment drops them), fills platform fields and checks required
// fields, and returns the bytes to produce.
func (g *Gateway) checkBinary(md protoreflect.MessageDescriptor, b []byte) ([]byte, error) {
	m := dynamicpb.NewMessage(md)
	if err := protosafe.Unmarshal(proto.UnmarshalOptions{}, b, m); err != nil {
		return nil, fmt.Errorf("payload is not a valid %s: %w", md.FullName(), err)
	}
	if len(m.GetUnknown()) > 0 {
		if !g.cfg.Convert.DropUnknown {
			return nil, fmt.Errorf("payload has fields %s does not define", md.FullName())
		}
		m.SetUnknown(nil)
	}
	if !g.cfg.Convert.NoPlatform {
		if err := convert.FillPlatform(m, g.cfg.Convert); err != nil {
			return nil, err
		}
	}
	if p := evoptions.MissingRequired(m); p != "" {
		return nil, &convert.Error{Field: p, Message: "required field is missing"}
	}
	if p, n := convert.UndefinedEnum(m); p != "" {
		return nil, &convert.Error{Field: p, Message: fmt.Sprintf("enum number %d is not one of the contract's values (an enum field takes unlisted numbers only with open: true)", n)}
	}
	return proto.Marshal(m)
}

func fieldOf(err error) string {
	var ce *convert.Error
	if errors.As(err, &ce) {
		return ce.Field
	}
	return ""
}

func sortRejected(r []Rejected) {
	sort.SliceStable(r, func(i, j int) bool { return r[i].Index < r[j].Index })
}
