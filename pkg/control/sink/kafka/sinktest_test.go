package kafka_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/sink/sinktest"
)

// The shared sink suite against kfake (SASL and ACLs on), one run per Kafka kind. Changes by
// hand, foreign resources and refusals are made on the cluster itself: its admin API, and
// kfake faults on one resource.

func TestTopicConformance(t *testing.T) {
	kc := kafkatest.Start(t)
	c := kafkatest.Admin(t, kc)
	topic := func(n int) sink.Desired {
		spec, err := kafka.NewTopicSpec(1, "1d", nil)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("suite.t%d", n)
		return sink.NewDesired("suite/t", kafka.KindTopic, name, "staging", spec, nil)
	}
	sinktest.Run(t, sinktest.Case{
		Sink: kafka.NewTopicSink(c),
		New:  func(t *testing.T, n int) sink.Desired { return topic(n) },
		Drift: func(t *testing.T, d sink.Desired) {
			res, err := c.Admin().AlterTopicConfigs(testCtx(t), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("3600000")}}, d.Name)
			if err == nil {
				err = res[0].Err
			}
			if err != nil {
				t.Fatal(err)
			}
		},
		Bad: func(t *testing.T, n int) (sink.Desired, func(*testing.T)) {
			d := topic(n)
			kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Topic: d.Name, Err: kerr.PolicyViolation, Count: -1})
			return d, nil
		},
		Foreign: func(t *testing.T, n int) sink.Desired {
			d := topic(n)
			if _, err := c.Admin().CreateTopic(testCtx(t), 1, -1, map[string]*string{"retention.ms": kadm.StringPtr("1000")}, d.Name); err != nil {
				t.Fatal(err)
			}
			return d
		},
	})
}

func TestUserConformance(t *testing.T) {
	kc := kafkatest.Start(t)
	c := kafkatest.Admin(t, kc)
	creds := kafka.NewFileCredentials(t.TempDir(), func(string) (string, bool) { return "", false })
	user := func(n int) sink.Desired {
		team := fmt.Sprintf("suiteteam%d", n)
		return sink.NewDesired("team/"+team, kafka.KindUser, kafka.UserName(team), "", kafka.NewUserSpec(team), nil)
	}
	upsert := func(t *testing.T, name string, mech kadm.ScramMechanism) {
		res, err := c.Admin().AlterUserSCRAMs(testCtx(t), nil, []kadm.UpsertSCRAM{{User: name, Mechanism: mech, Iterations: kafka.ScramIterations, Password: "by-hand"}})
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	sinktest.Run(t, sinktest.Case{
		Sink: kafka.NewUserSink(c, creds),
		New:  func(t *testing.T, n int) sink.Desired { return user(n) },
		// Someone replaced the user's SCRAM-SHA-512 credential with a SCRAM-SHA-256 one.
		Drift: func(t *testing.T, d sink.Desired) {
			upsert(t, d.Name, kadm.ScramSha256)
			res, err := c.Admin().AlterUserSCRAMs(testCtx(t), []kadm.DeleteSCRAM{{User: d.Name, Mechanism: kadm.ScramSha512}}, nil)
			if err == nil {
				err = res.Error()
			}
			if err != nil {
				t.Fatal(err)
			}
		},
		Bad: func(t *testing.T, n int) (sink.Desired, func(*testing.T)) {
			d := user(n)
			kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.AlterUserSCRAMCredentials}, Resource: d.Name, Err: kerr.UnacceptableCredential, Count: -1})
			return d, nil
		},
		Foreign: func(t *testing.T, n int) sink.Desired {
			d := user(n)
			upsert(t, d.Name, kadm.ScramSha512)
			return d
		},
	})
}

func TestACLConformance(t *testing.T) {
	kc := kafkatest.Start(t)
	c := kafkatest.Admin(t, kc)
	acl := func(n int) sink.Desired {
		topic := fmt.Sprintf("suite.a%d", n)
		spec := kafka.NewACLSpec(topic, []string{fmt.Sprintf("prod%d", n)}, []string{fmt.Sprintf("cons%d", n)})
		return sink.NewDesired("suite/a", kafka.KindACL, topic, "staging", spec, nil)
	}
	create := func(t *testing.T, b *kadm.ACLBuilder) {
		res, err := c.Admin().CreateACLs(testCtx(t), b)
		if err == nil {
			for _, r := range res {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The teams evctl.yaml names: the principals whose entries the sink manages.
	var teams []string
	for n := range 10 {
		teams = append(teams, fmt.Sprintf("prod%d", n), fmt.Sprintf("cons%d", n))
	}
	sinktest.Run(t, sinktest.Case{
		Sink: kafka.NewACLSink(c, teams...),
		New:  func(t *testing.T, n int) sink.Desired { return acl(n) },
		// Someone let the producing team read the topic too.
		Drift: func(t *testing.T, d sink.Desired) {
			prod := d.Spec.(kafka.ACLSpec).Producers[0]
			create(t, kadm.NewACLs().Topics(d.Name).ResourcePatternType(kadm.ACLPatternLiteral).
				Operations(kadm.OpRead).Allow(kafka.Principal(prod)).AllowHosts("*"))
		},
		Bad: func(t *testing.T, n int) (sink.Desired, func(*testing.T)) {
			d := acl(n)
			kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateACLs}, Resource: d.Name, Err: kerr.SecurityDisabled, Count: -1})
			return d, nil
		},
		// Another contracts repository granted the same teams on a topic it owns.
		Foreign: func(t *testing.T, n int) sink.Desired {
			d := acl(n)
			spec := d.Spec.(kafka.ACLSpec)
			create(t, kadm.NewACLs().Topics(d.Name).ResourcePatternType(kadm.ACLPatternLiteral).
				Operations(kadm.OpWrite, kadm.OpDescribe).Allow(kafka.Principal(spec.Producers[0])).AllowHosts("*"))
			return d
		},
	})
}
