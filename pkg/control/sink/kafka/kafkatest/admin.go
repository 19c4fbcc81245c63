package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/control/sink/kafka"
)

// Admin connects the kafka sinks' client to the cluster as its admin user, closed with the test.
// The connect is bounded so a hung broker fails the test instead of hanging it.
func Admin(t testing.TB, kc *Cluster) *kafka.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := kafka.Connect(ctx, kafka.Config{
		Brokers: kc.Addrs,
		SASL:    kafka.SASL{Mechanism: Mechanism, User: AdminUser, Password: kc.AdminPassword},
	})
	if err != nil {
		t.Fatalf("connect as admin: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
