// Package kafkatest starts in-process kfake clusters for tests: loopback, a port chosen at run
// time, SASL/SCRAM and ACLs enforced, one SCRAM-SHA-256 superuser with a random password. It owns
// nothing but test scaffolding and must not be imported by non-test code.
package kafkatest

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Mechanism is the SASL mechanism of the superuser.
const Mechanism = "SCRAM-SHA-256"

// AdminUser is the superuser's name.
const AdminUser = "admin"

// Cluster is a running kfake cluster and how to log in to it as the superuser.
type Cluster struct {
	*kfake.Cluster
	Addrs         []string // host:port of every broker
	AdminPassword string
	opts          []kfake.Opt
}

// Start starts a one-broker cluster with SASL and ACLs on and stops it when tb ends. opts are
// appended to the defaults (a later option wins), e.g. kfake.DataDir or kfake.NumBrokers. It
// fails tb when the cluster cannot start.
func Start(tb testing.TB, opts ...kfake.Opt) *Cluster {
	tb.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("kafkatest: %v", err)
	}
	c := &Cluster{AdminPassword: hex.EncodeToString(b)}
	c.opts = append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.EnableSASL(),
		kfake.EnableACLs(),
		kfake.Superuser(Mechanism, AdminUser, c.AdminPassword),
	}, opts...)
	c.start(tb, c.opts...)
	return c
}

func (c *Cluster) start(tb testing.TB, opts ...kfake.Opt) {
	tb.Helper()
	kc, err := kfake.NewCluster(opts...)
	if err != nil {
		tb.Fatalf("kafkatest: start kfake: %v", err)
	}
	tb.Cleanup(kc.Close)
	c.Cluster, c.Addrs = kc, kc.ListenAddrs()
}

// Restart closes the cluster and starts it again on the same ports with the same options, for
// persistence tests (start the cluster with kfake.DataDir for state to survive).
func (c *Cluster) Restart(tb testing.TB) {
	tb.Helper()
	c.Close()
	ports := make([]int, 0, len(c.Addrs))
	for _, a := range c.Addrs {
		p, err := strconv.Atoi(a[strings.LastIndexByte(a, ':')+1:])
		if err != nil {
			tb.Fatalf("kafkatest: address %q: %v", a, err)
		}
		ports = append(ports, p)
	}
	c.start(tb, append(c.opts, kfake.Ports(ports...))...)
}
