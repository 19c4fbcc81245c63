package kafka_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/gcpsmfake"
)

// bearer adds the token a real client's oauth2 transport would.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func smStore(t *testing.T, fake *gcpsmfake.Server, env map[string]string) *kafka.SecretManagerCredentials {
	return kafka.NewSecretManagerCredentials(context.Background(), fake.Project, "prod", fake.URL,
		&http.Client{Transport: bearer{fake.Token}}, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

// TestSecretManagerCredentialsFakeSecretManager runs the gcpsm:// store against a fake of
// Secret Manager's REST API (no emulator exists): a password is generated once into
// evctl-<env>-kafka-<team> and read back by every later store; rotation stages a second secret
// and promotes it as a new version; the override variable wins; errors carry the server's
// status and never a password.
func TestSecretManagerCredentialsFakeSecretManager(t *testing.T) {
	fake := gcpsmfake.Start(t, "acme-prod", "tok")
	s := smStore(t, fake, nil)
	if s.SecretID("growth.web") != "evctl-prod-kafka-growth_web" {
		t.Fatalf("secret id %q", s.SecretID("growth.web"))
	}
	if ok, err := s.Exists("growth"); ok || err != nil {
		t.Fatalf("Exists before: %v %v", ok, err)
	}
	pw, created, err := s.Password("growth")
	if err != nil || !created || len(pw) < 40 {
		t.Fatalf("Password: %q %v %v", pw, created, err)
	}
	if v := fake.Versions("evctl-prod-kafka-growth"); !slices.Equal(v, []string{pw}) || fake.Labels("evctl-prod-kafka-growth")["managed-by"] != "evctl" {
		t.Fatalf("stored versions %v labels %v", v, fake.Labels("evctl-prod-kafka-growth"))
	}
	again, created, err := smStore(t, fake, nil).Password("growth")
	if again != pw || created || err != nil {
		t.Fatalf("a second store: %q %v %v", again, created, err)
	}
	if ok, err := s.Exists("growth"); !ok || err != nil {
		t.Fatalf("Exists after: %v %v", ok, err)
	}

	// Rotation: staged, pending, promoted as a new version, the staging secret gone.
	if _, ok, err := s.Pending("growth"); ok || err != nil {
		t.Fatalf("Pending before Rotate: %v %v", ok, err)
	}
	next, err := s.Rotate("growth")
	if err != nil || next == pw {
		t.Fatalf("Rotate: %v", err)
	}
	if cur, _, _ := s.Password("growth"); cur != pw {
		t.Fatal("Rotate changed the current password before Promote")
	}
	if got, ok, err := s.Pending("growth"); got != next || !ok || err != nil {
		t.Fatalf("Pending: %v %v", ok, err)
	}
	if err := s.Promote("growth"); err != nil {
		t.Fatal(err)
	}
	if cur, _, _ := s.Password("growth"); cur != next {
		t.Fatal("Promote did not make the staged password current")
	}
	if v := fake.Versions("evctl-prod-kafka-growth"); !slices.Equal(v, []string{pw, next}) || fake.Versions("evctl-prod-kafka-growth--next") != nil {
		t.Fatalf("after Promote: versions %d, staging secret %v", len(v), fake.SecretIDs())
	}
	if err := s.Promote("growth"); err != nil {
		t.Fatalf("Promote with nothing staged: %v", err)
	}

	// A secret made by another process that stopped before its first version is finished.
	if _, err := smStore(t, fake, nil).Rotate("search"); err != nil { // creates only the --next secret
		t.Fatal(err)
	}
	pw2, created, err := s.Password("search")
	if err != nil || !created || !slices.Equal(fake.Versions("evctl-prod-kafka-search"), []string{pw2}) {
		t.Fatalf("search: %v %v %v", created, err, fake.Versions("evctl-prod-kafka-search"))
	}

	// The override variable wins and cannot be rotated here.
	o := smStore(t, fake, map[string]string{"EVCTL_KAFKA_PASSWORD_ADS": "from-env-123"})
	if got, _, err := o.Password("ads"); got != "from-env-123" || err != nil || fake.Versions("evctl-prod-kafka-ads") != nil {
		t.Fatalf("override: %q %v", got, err)
	}
	if _, err := o.Rotate("ads"); err == nil || !strings.Contains(err.Error(), "EVCTL_KAFKA_PASSWORD_ADS") {
		t.Fatalf("rotating an override: %v", err)
	}

	// Refusals name the project and the server's status, never a password.
	noAuth := kafka.NewSecretManagerCredentials(context.Background(), fake.Project, "prod", fake.URL, http.DefaultClient, nil)
	_, _, err = noAuth.Password("growth")
	if err == nil || !strings.Contains(err.Error(), "401 UNAUTHENTICATED") || strings.Contains(err.Error(), next) {
		t.Fatalf("without a token: %v", err)
	}
	other := kafka.NewSecretManagerCredentials(context.Background(), "someone-else", "prod", fake.URL, &http.Client{Transport: bearer{fake.Token}}, nil)
	if _, err := other.Exists("growth"); err == nil || !strings.Contains(err.Error(), "403 PERMISSION_DENIED") || !strings.Contains(err.Error(), "gcpsm://projects/someone-else") {
		t.Fatalf("another project: %v", err)
	}
	if _, _, err := s.Password("../x"); err == nil {
		t.Fatal("a bad team name was accepted")
	}
}
