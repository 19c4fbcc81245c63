package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/control/sink"
)

var errNoObserved = errors.New("change carries no observation")

// Apply executes one change; it is ApplyBatch of one.
func (s *ACLSink) Apply(ctx context.Context, c sink.Change) error {
	return s.ApplyBatch(ctx, []sink.Change{c})[0]
}

// ApplyBatch adds every missing entry of every change with one CreateACLs request and removes
// every unwanted entry with one DeleteACLs request of exact filters (so nothing else matches),
// returning one error (or nil) per change, in order. The entries come from each change's Desired
// and Observed, as Diff computed them. Creating an entry that exists and deleting one that is
// gone both succeed, so a repeat after a crash converges. Errors are prefixed
// "kafka: <op> acls for topic %q" and wrap the broker's kerr.Error.
func (s *ACLSink) ApplyBatch(ctx context.Context, cs []sink.Change) []error {
	errs := make([]error, len(cs))
	creq := kmsg.NewPtrCreateACLsRequest()
	dreq := kmsg.NewPtrDeleteACLsRequest()
	var createOwner, deleteOwner []int
	for i, c := range cs {
		switch c.Action {
		case sink.Noop:
			continue
		case sink.Create, sink.Update, sink.Delete:
		default:
			errs[i] = fmt.Errorf("kafka: acls for topic %q: cannot apply action %q", c.Name, c.Action)
			continue
		}
		add, remove, err := changeDelta(c)
		if err != nil {
			errs[i] = fmt.Errorf("kafka: %s acls for topic %q: %w", c.Action, c.Name, err)
			continue
		}
		for _, b := range add {
			cr := kmsg.NewCreateACLsRequestCreation()
			cr.Principal, cr.Host = b.Principal, b.Host
			cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = b.Type, b.Resource, b.Pattern
			cr.Operation, cr.PermissionType = b.Operation, b.Permission
			creq.Creations = append(creq.Creations, cr)
			createOwner = append(createOwner, i)
		}
		for _, b := range remove {
			f := kmsg.NewDeleteACLsRequestFilter()
			f.Principal, f.Host = kmsg.StringPtr(b.Principal), kmsg.StringPtr(b.Host)
			f.ResourceType, f.ResourceName, f.ResourcePatternType = b.Type, kmsg.StringPtr(b.Resource), b.Pattern
			f.Operation, f.PermissionType = b.Operation, b.Permission
			dreq.Filters = append(dreq.Filters, f)
			deleteOwner = append(deleteOwner, i)
		}
	}
	fail := func(i int, err error) {
		if errs[i] == nil {
			errs[i] = fmt.Errorf("kafka: %s acls for topic %q: %w", cs[i].Action, cs[i].Name, err)
		}
	}
	// In requests of aclBatch entries: one request of every entry of 10,000 topics (50,000 and
	// more) outlasted the client's read deadline on a busy broker, failing them all.
	all := creq.Creations
	for start := 0; start < len(all); start += aclBatch {
		end := min(start+aclBatch, len(all))
		req := kmsg.NewPtrCreateACLsRequest()
		req.Creations = all[start:end]
		owner := createOwner[start:end]
		kresp, err := s.c.request(ctx, req)
		if err != nil {
			for _, i := range owner {
				fail(i, err)
			}
			continue
		}
		results := kresp.(*kmsg.CreateACLsResponse).Results
		for k, i := range owner {
			if k >= len(results) {
				fail(i, errors.New("no answer from the broker"))
				continue
			}
			if err := brokerErr(results[k].ErrorCode, results[k].ErrorMessage); err != nil {
				fail(i, err)
			}
		}
	}
	filters := dreq.Filters
	for start := 0; start < len(filters); start += aclBatch {
		end := min(start+aclBatch, len(filters))
		req := kmsg.NewPtrDeleteACLsRequest()
		req.Filters = filters[start:end]
		owner := deleteOwner[start:end]
		kresp, err := s.c.request(ctx, req)
		if err != nil {
			for _, i := range owner {
				fail(i, err)
			}
			continue
		}
		results := kresp.(*kmsg.DeleteACLsResponse).Results
		for k, i := range owner {
			if k >= len(results) {
				fail(i, errors.New("no answer from the broker"))
				continue
			}
			r := results[k]
			if err := brokerErr(r.ErrorCode, r.ErrorMessage); err != nil {
				fail(i, err)
				continue
			}
			for _, m := range r.MatchingACLs {
				if err := brokerErr(m.ErrorCode, m.ErrorMessage); err != nil {
					fail(i, err)
				}
			}
		}
	}
	return errs
}

// aclBatch is how many entries one CreateACLs or DeleteACLs request carries.
const aclBatch = 2000

// changeDelta recomputes what Diff proposed from the change's Desired and Observed.
func changeDelta(c sink.Change) (add, remove []ACLBinding, err error) {
	var want []ACLBinding
	if c.Action != sink.Delete {
		if c.Desired == nil {
			return nil, nil, errNoDesired
		}
		spec, err := aclSpec(c.Desired.Spec)
		if err != nil {
			return nil, nil, err
		}
		spec.Topic = c.Name
		want = spec.Bindings()
	}
	var have []ACLBinding
	switch {
	case c.Observed != nil:
		have, _ = c.Observed.Spec.([]ACLBinding)
	case c.Action != sink.Create:
		return nil, nil, errNoObserved
	}
	add, remove = aclDelta(want, have)
	return add, remove, nil
}
