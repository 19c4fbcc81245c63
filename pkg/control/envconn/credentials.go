package envconn

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"

	"golang.org/x/oauth2/google"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
)

// GCPSMEndpointEnv, when set, points the gcpsm:// credentials store at another Secret Manager
// endpoint and drops Google authentication, as STORAGE_EMULATOR_HOST does for GCS (tests, a
// proxy that authenticates itself).
const GCPSMEndpointEnv = "EVCTL_GCPSM_ENDPOINT"

// openCredentials returns the store of env's team passwords: credentials.store, else
// credentials_dir, else .evctl/credentials/<env>; relative folders are relative to root. A
// non-empty EVCTL_KAFKA_PASSWORD_<TEAM> wins in every store.
func openCredentials(ctx context.Context, root, env string, cfg config.Environment, getenv func(string) string) (kafka.Credentials, error) {
	lookup := func(k string) (string, bool) {
		v := getenv(k)
		return v, v != ""
	}
	dir := cfg.CredentialsDir
	if cfg.Credentials.Store != "" {
		kind, where, err := config.ParseCredentialsStore(cfg.Credentials.Store)
		if err != nil {
			return nil, fmt.Errorf("envconn: environment %q: %w", env, err)
		}
		if kind == config.CredentialsGCPSM {
			endpoint, client := getenv(GCPSMEndpointEnv), http.DefaultClient
			if endpoint == "" {
				// Application default credentials: workload identity federation in CI. Without
				// any, every call fails with this error, and plans still run (they read no
				// password).
				c, err := google.DefaultClient(ctx, "https://www.googleapis.com/auth/cloud-platform")
				if err != nil {
					c = &http.Client{Transport: failing{fmt.Errorf("google application default credentials: %w", err)}}
				}
				client = c
			}
			return kafka.NewSecretManagerCredentials(ctx, where, env, endpoint, client, lookup), nil
		}
		dir = where
	}
	if dir == "" {
		dir = filepath.Join(".evctl", "credentials", env)
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	files := kafka.NewFileCredentials(dir, lookup)
	if getenv("GITHUB_ACTIONS") == "true" && cfg.CredentialsDir == "" && cfg.Credentials.Store == "" {
		return runnerGuard{files, env}, nil
	}
	return files, nil
}

// runnerGuard is the default file store (no credentials_dir or credentials.store named: an
// explicit folder may be a volume that outlives the job) on a GitHub Actions runner, whose files
// are gone when the job ends: a password it would generate or rotate there would be set on the broker and then lost
// with no one knowing it, so both are refused with what to do instead. Passwords from
// EVCTL_KAFKA_PASSWORD_<TEAM> (and files a previous step of the same job wrote) still work.
type runnerGuard struct {
	*kafka.FileCredentials
	env string
}

func (g runnerGuard) refuse(team string) error {
	return fmt.Errorf("envconn: environment %q: team %q has no Kafka password here, and one generated on a CI runner is lost when the job ends: set $%s from a secret, or keep the passwords in GCP Secret Manager (credentials: {store: \"gcpsm://projects/<project>\"})",
		g.env, team, kafka.PasswordEnv(team))
}

// Password implements kafka.Credentials.
func (g runnerGuard) Password(team string) (string, bool, error) {
	ok, err := g.Exists(team)
	if err != nil {
		return "", false, err
	}
	if !ok {
		return "", false, g.refuse(team)
	}
	return g.FileCredentials.Password(team)
}

// Rotate implements kafka.Credentials.
func (g runnerGuard) Rotate(team string) (string, error) {
	return "", fmt.Errorf("envconn: environment %q: a password for team %q rotated on a CI runner is lost when the job ends: change $%s's secret, or keep the passwords in GCP Secret Manager, where evctl rotates them",
		g.env, team, kafka.PasswordEnv(team))
}

// failing is a transport that fails every request with err.
type failing struct{ err error }

func (f failing) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }
