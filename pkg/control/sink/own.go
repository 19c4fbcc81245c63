package sink

import "fmt"

// Ownership is what the planner knows about who owns what when it applies a kind's rules.
type Ownership struct {
	// Recorded reports whether this repository's state records the change's resource (created
	// by an apply, or being created by one that crashed: pending).
	Recorded bool
	// Owns reports whether this repository owns another resource of the plan: recorded in its
	// state, or created by this plan.
	Owns func(kind, name string) bool
}

// Owner is implemented by kinds whose ownership is more than "recorded in this repository's
// state" (OwnRecorded): a kind whose whole store is evctl's, a team's user shared by every
// contracts repository on a cluster, a topic's ACLs that are ours when the topic is.
type Owner interface {
	// Own applies the kind's ownership rules to c, changing its Action and Reason where this
	// repository may not do what the diff proposes.
	Own(c *Change, o Ownership)
}

// Own applies s's ownership rules to c: its own when s is an Owner, else OwnRecorded.
func Own(s Sink, c *Change, o Ownership) {
	if ow, ok := s.(Owner); ok {
		ow.Own(c, o)
		return
	}
	OwnRecorded(c, o.Recorded)
}

// OwnRecorded is the default rule (SPEC 4): evctl only changes or deletes what it created. A live
// resource this repository's state does not record (made by hand or by another contracts
// repository) is blocked for any change, even a noop, so it is never recorded as ours.
func OwnRecorded(c *Change, recorded bool) {
	if recorded || c.Observed == nil || !c.Observed.Exists {
		return
	}
	switch c.Action {
	case Update, Replace, Delete, Noop:
		c.Action = Blocked
		c.Reason = fmt.Sprintf("%s %s exists but was not created by this repository's evctl state (made by hand or by another contracts repo); evctl never changes what it does not own", c.Kind, c.Name)
	}
}
