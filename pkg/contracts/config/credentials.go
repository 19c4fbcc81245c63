package config

import (
	"fmt"
	"strings"
)

// CredentialsEnv is where the environment's team passwords are kept (SPEC-dataplane 13):
// file://<dir> (the default, .evctl/credentials/<env>: right on a laptop, lost with a CI
// runner) or gcpsm://projects/<project> (GCP Secret Manager, one secret per team).
type CredentialsEnv struct {
	Store string `yaml:"store"`
}

// The kinds of credentials store ParseCredentialsStore returns.
const (
	CredentialsFile  = "file"
	CredentialsGCPSM = "gcpsm"
)

// ParseCredentialsStore splits a credentials.store URL into its kind and its folder (file) or
// project (gcpsm). The error says what shapes are accepted.
func ParseCredentialsStore(raw string) (kind, where string, err error) {
	switch {
	case strings.HasPrefix(raw, "file://"):
		if dir := strings.TrimPrefix(raw, "file://"); dir != "" {
			return CredentialsFile, dir, nil
		}
	case strings.HasPrefix(raw, "gcpsm://projects/"):
		if p := strings.TrimPrefix(raw, "gcpsm://projects/"); p != "" && !strings.ContainsAny(p, "/?#") {
			return CredentialsGCPSM, p, nil
		}
	}
	return "", "", fmt.Errorf("credentials.store %q must be file://<folder> or gcpsm://projects/<project>", raw)
}
