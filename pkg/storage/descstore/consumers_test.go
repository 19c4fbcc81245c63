package descstore_test

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

func consumerDef(name, tpl string) *descstore.ConsumerDef {
	return &descstore.ConsumerDef{
		Name: name, Team: "growth", File: "consumers/" + name + ".yaml",
		Events: []string{"identity/onboarding_step_completed"},
		Topics: map[string]string{"identity/onboarding_step_completed": "local.identity.onboarding_step_completed.v1"},
		Group:  "evctl.local.consumer." + name, DLQ: "local.consumers." + name + ".dlq",
		Where:     map[string]string{"step": "KYC"},
		Transform: tpl,
		Deliver:   descstore.ConsumerDeliver{HTTP: &descstore.ConsumerHTTP{URLEnv: "CRM_URL", Method: "POST", MaxRPS: 200, Headers: map[string]string{"X-Source": "evctl"}}},
		Retry:     descstore.ConsumerRetry{MaxAttempts: 8, Backoff: "1s", MaxBackoff: "5m"},
	}
}

// TestConsumersRoundTrip: published definitions read back equal, by index and by hash; a
// republish of the same definitions keeps the index's Version; a changed template changes the
// consumer's SHA256 and the Version; a removed consumer leaves the index.
func TestConsumersRoundTrip(t *testing.T) {
	backends(t, func(t *testing.T, st blob.Store) {
		ctx := testCtx(t)
		empty, gen, err := descstore.ReadConsumerIndex(ctx, st)
		if err != nil || gen != "" || empty.Version != "" || len(empty.Consumers) != 0 {
			t.Fatalf("empty store: %+v %q %v", empty, gen, err)
		}
		a, b := consumerDef("crm_nudges", `{"user": {{json .user_id}}}`), consumerDef("audit", `{{json .}}`)
		b.Deliver = descstore.ConsumerDeliver{Kafka: &descstore.ConsumerKafka{Topic: "local.audit"}}
		if err := descstore.PublishConsumers(ctx, st, []*descstore.ConsumerDef{a, b}, nil); err != nil {
			t.Fatal(err)
		}
		all, err := descstore.ReadConsumers(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(all.Index.Names()) != "[audit crm_nudges]" || all.Index.Version == "" {
			t.Fatalf("index %+v", all.Index)
		}
		if !reflect.DeepEqual(all.Defs["crm_nudges"], a) || !reflect.DeepEqual(all.Defs["audit"], b) {
			t.Fatalf("read back\n%+v\n%+v", all.Defs["crm_nudges"], all.Defs["audit"])
		}
		e := all.Index.Consumers["crm_nudges"]
		_, sha, _ := descstore.EncodeConsumerDef(a)
		if e.SHA256 != sha || e.Team != "growth" || fmt.Sprint(e.Events) != "[identity/onboarding_step_completed]" {
			t.Fatalf("entry %+v, want sha %s", e, sha)
		}
		one, err := descstore.ReadConsumerDef(ctx, st, sha)
		if err != nil || !reflect.DeepEqual(one, a) {
			t.Fatalf("by hash: %+v %v", one, err)
		}
		v1 := all.Index.Version

		if err := descstore.PublishConsumers(ctx, st, []*descstore.ConsumerDef{a, b}, nil); err != nil {
			t.Fatal(err)
		}
		idx, _, err := descstore.ReadConsumerIndex(ctx, st)
		if err != nil || idx.Version != v1 {
			t.Fatalf("republished unchanged: version %q, want %q (%v)", idx.Version, v1, err)
		}

		a2 := consumerDef("crm_nudges", `{"user": {{json .user_id}}, "v": 2}`)
		if err := descstore.PublishConsumers(ctx, st, []*descstore.ConsumerDef{a2}, []string{"audit"}); err != nil {
			t.Fatal(err)
		}
		idx, _, err = descstore.ReadConsumerIndex(ctx, st)
		if err != nil || idx.Version == v1 || fmt.Sprint(idx.Names()) != "[crm_nudges]" || idx.Consumers["crm_nudges"].SHA256 == sha {
			t.Fatalf("after change and removal: %+v %v", idx, err)
		}
		// The old definition stays readable (immutable): a worker mid-reload still finds it.
		if _, err := descstore.ReadConsumerDef(ctx, st, sha); err != nil {
			t.Fatalf("old definition: %v", err)
		}
	})
}

func TestConsumerDefChecksContent(t *testing.T) {
	backends(t, func(t *testing.T, st blob.Store) {
		ctx := testCtx(t)
		good, sha, err := descstore.EncodeConsumerDef(consumerDef("x", "{{json .}}"))
		if err != nil {
			t.Fatal(err)
		}
		tampered := append([]byte(nil), good...)
		tampered[len(tampered)-3] = ' '
		if _, err := st.Put(ctx, descstore.ConsumerDefKey(sha), tampered, blob.PutOpts{}); err != nil {
			t.Fatal(err)
		}
		if _, err := descstore.ReadConsumerDef(ctx, st, sha); !errors.Is(err, descstore.ErrCorruptConsumer) {
			t.Fatalf("tampered definition: %v", err)
		}
		if _, err := descstore.ReadConsumerDef(ctx, st, descstore.SHA256([]byte("missing"))); !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("missing definition: %v", err)
		}
		// An index naming a definition that is not there fails the whole read, naming the consumer.
		if err := descstore.UpdateConsumerIndex(ctx, st, func(idx *descstore.ConsumerIndex) {
			idx.Consumers["ghost"] = descstore.ConsumerEntry{SHA256: descstore.SHA256([]byte("nothing"))}
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := descstore.ReadConsumers(ctx, st); err == nil || !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("dangling entry: %v", err)
		}
		if _, err := st.Put(ctx, descstore.ConsumersIndexKey, []byte("{not json"), blob.PutOpts{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := descstore.ReadConsumerIndex(ctx, st); err == nil {
			t.Fatal("corrupt index read without error")
		}
	})
}

// TestBadDefinitionNotPublished: a definition that could not run is refused before anything
// is written.
func TestBadDefinitionNotPublished(t *testing.T) {
	backends(t, func(t *testing.T, st blob.Store) {
		ctx := testCtx(t)
		bad := consumerDef("both", "x")
		bad.Deliver.Kafka = &descstore.ConsumerKafka{Topic: "t"}
		if err := descstore.PublishConsumers(ctx, st, []*descstore.ConsumerDef{consumerDef("ok", "x"), bad}, nil); err == nil {
			t.Fatal("published a definition with two targets")
		}
		if _, _, err := st.Get(ctx, descstore.ConsumersIndexKey); !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("index written although a definition was refused: %v", err)
		}
	})
}

// TestConcurrentConsumerPublishers: writers racing on consumers/index.json each keep their entry.
func TestConcurrentConsumerPublishers(t *testing.T) {
	backends(t, func(t *testing.T, st blob.Store) {
		ctx := testCtx(t)
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = descstore.PublishConsumers(ctx, st, []*descstore.ConsumerDef{consumerDef(fmt.Sprintf("c%d", i), "{{json .}}")}, nil)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		all, err := descstore.ReadConsumers(ctx, st)
		if err != nil || len(all.Defs) != n {
			t.Fatalf("after %d publishers: %d consumers, %v", n, len(all.Defs), err)
		}
	})
}

// FuzzDecodeConsumerDef: any bytes decode to a runnable definition or an error, never a panic;
// what decodes encodes and decodes again to the same definition.
func FuzzDecodeConsumerDef(f *testing.F) {
	good, _, err := descstore.EncodeConsumerDef(consumerDef("x", "{{json .}}"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"name":"x","events":["a/b"],"deliver":{"kafka":{"topic":"t"}}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"consumers":{"x":{"sha256":"s"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if idx, err := descstore.DecodeConsumerIndex(b); err == nil && idx.Consumers == nil {
			t.Fatal("nil consumers")
		}
		d, err := descstore.DecodeConsumerDef(b)
		if err != nil {
			return
		}
		out, _, err := descstore.EncodeConsumerDef(d)
		if err != nil {
			t.Fatalf("decoded definition does not encode: %v", err)
		}
		again, err := descstore.DecodeConsumerDef(out)
		if err != nil || !reflect.DeepEqual(again, d) {
			t.Fatalf("round trip: %+v != %+v (%v)", again, d, err)
		}
	})
}
