package apply_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob/blobtest"
)

// deadAddr is a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := l.Addr().String()
	must(t, l.Close())
	return addr
}

// converged checks that a fresh plan has nothing to do and state has every resource ok.
func converged(t *testing.T, r *repo) {
	t.Helper()
	ctx := testCtx(t)
	p, _ := r.plan(ctx)
	if p.HasChanges() || len(p.Errors) > 0 || len(p.Drift) > 0 {
		t.Fatalf("not converged: %v, errors %v, drift %v", actionCounts(p), p.Errors, p.Drift)
	}
	st := r.readState(ctx)
	for _, k := range wantResources(r.events) {
		if rec, ok := st.Resources[k]; !ok || rec.Status != state.StatusOK {
			t.Errorf("state of %s: %+v, want ok", k, rec)
		}
	}
	if len(st.Resources) != len(wantResources(r.events)) {
		t.Errorf("state has %d records, want %d", len(st.Resources), len(wantResources(r.events)))
	}
}

// TestKafkaUnreachable points the environment at a port nothing listens on: every Kafka
// resource fails with the connection error, descriptors are published, and --retry-failed after
// the fix converges without touching the descriptors again.
func TestKafkaUnreachable(t *testing.T) {
	ctx := testCtx(t)
	kc := kafkatest.Start(t)
	r := newRepo(t, kc, defaultEvents())
	r.brokers, r.connectTimeout = []string{deadAddr(t)}, time.Second
	r.write()

	rep, p := r.apply(ctx, apply.Options{})
	if len(p.Errors) == 0 {
		t.Errorf("plan with Kafka down has no errors")
	}
	for _, x := range rep.Results {
		switch {
		case x.Kind == descriptor.Kind:
			if x.Status != state.StatusOK {
				t.Errorf("%s/%s: %s %s, want ok", x.Kind, x.Name, x.Status, x.Error)
			}
		case x.Status != state.StatusFailed || !strings.Contains(x.Error, "kafka: connect to "+r.brokers[0]):
			t.Errorf("%s/%s: %s %q, want failed with the connection error", x.Kind, x.Name, x.Status, x.Error)
		}
	}
	st := r.readState(ctx)
	for k, rec := range st.Resources {
		if !strings.HasPrefix(k, "descriptor/") && (rec.Status != state.StatusFailed || rec.Error == "") {
			t.Errorf("state of %s: %+v, want failed with the error", k, rec)
		}
	}

	r.brokers = kc.Addrs
	r.write()
	rep, _ = r.apply(ctx, apply.Options{RetryFailed: true})
	if rep.Failed() {
		t.Fatalf("retry-failed: %v", notOK(rep))
	}
	for _, x := range rep.Results {
		if x.Kind == descriptor.Kind {
			t.Errorf("retry-failed re-ran %s/%s, which had succeeded", x.Kind, x.Name)
		}
	}
	converged(t, r)
}

// TestTopicCreationRefused has the broker refuse one topic: that topic fails with the broker's
// error, its ACL is skipped as a dependent, every other resource is ok; --retry-failed then
// converges.
func TestTopicCreationRefused(t *testing.T) {
	ctx := testCtx(t)
	kc := kafkatest.Start(t)
	evs := defaultEvents()
	r := newRepo(t, kc, evs)
	refused := evs[1].Topic()
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Topic: refused, Err: kerr.PolicyViolation})

	rep, _ := r.apply(ctx, apply.Options{})
	for id, x := range results(rep) {
		switch id {
		case "kafka_topic/" + refused:
			if x.Status != state.StatusFailed || !strings.Contains(x.Error, kerr.PolicyViolation.Message) {
				t.Errorf("%s: %s %q, want failed with POLICY_VIOLATION", id, x.Status, x.Error)
			}
		case "kafka_acl/" + refused, "kafka_dlq_topic/" + refused + ".dlq":
			if x.Status != state.StatusSkipped || x.Error != "dependency kafka_topic/"+refused+" did not succeed" {
				t.Errorf("%s: %s %q, want skipped for its topic", id, x.Status, x.Error)
			}
		default:
			if x.Status != state.StatusOK {
				t.Errorf("%s: %s %q, want ok", id, x.Status, x.Error)
			}
		}
	}
	p, _ := r.plan(ctx)
	// The ACL is an update, not a create: the consumers' group entries, shared with the other
	// topics they read, exist already.
	if cs := changes(p); cs["kafka_topic/"+refused].Action != sink.Create || cs["kafka_acl/"+refused].Action != sink.Update || cs["kafka_dlq_topic/"+refused+".dlq"].Action != sink.Create || p.Summary.Noop != len(p.Changes)-3 {
		t.Fatalf("after the refusal the plan is %v", actionCounts(p))
	}

	rep, _ = r.apply(ctx, apply.Options{RetryFailed: true})
	if rep.Failed() || len(rep.Results) != 3 {
		t.Fatalf("retry-failed: %d results, %v; want the topic, its ACL and its dead-letter topic ok", len(rep.Results), notOK(rep))
	}
	converged(t, r)
}

// TestGCSUnreachable puts the descriptor store on a GCS server that does not answer (state is
// on file://, so the outcome is recorded): every descriptor fails, every sink of those events is
// skipped, team users (no descriptor) still apply.
func TestGCSUnreachable(t *testing.T) {
	ctx := testCtx(t)
	kc := kafkatest.Start(t)
	srv := blobtest.FakeGCS(t, "evctl-test")
	r := newRepo(t, kc, defaultEvents())
	r.descURL = "gs://evctl-test/descriptors"
	r.write()
	t.Setenv("STORAGE_EMULATOR_HOST", deadAddr(t))

	rep, p := r.apply(ctx, apply.Options{})
	if len(p.Errors) == 0 {
		t.Errorf("plan with GCS down has no errors")
	}
	for id, x := range results(rep) {
		switch x.Kind {
		case descriptor.Kind:
			if x.Status != state.StatusFailed || !strings.Contains(x.Error, "descstore: read") {
				t.Errorf("%s: %s %q, want failed with the store's error", id, x.Status, x.Error)
			}
		case "kafka_user":
			if x.Status != state.StatusOK {
				t.Errorf("%s: %s %q, want ok (users do not depend on descriptors)", id, x.Status, x.Error)
			}
		default:
			if x.Status != state.StatusSkipped || !strings.HasPrefix(x.Error, "dependency descriptor/") {
				t.Errorf("%s: %s %q, want skipped for its descriptor", id, x.Status, x.Error)
			}
		}
	}

	t.Setenv("STORAGE_EMULATOR_HOST", srv.URL())
	rep, _ = r.apply(ctx, apply.Options{RetryFailed: true})
	if rep.Failed() {
		t.Fatalf("retry-failed: %v", notOK(rep))
	}
	converged(t, r)
}
