package config_test

import (
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/config"
)

func TestParseCredentialsStore(t *testing.T) {
	for raw, want := range map[string]string{
		"gcpsm://projects/acme-prod": "gcpsm acme-prod", "file://.evctl/creds": "file .evctl/creds", "file:///abs": "file /abs",
	} {
		kind, where, err := config.ParseCredentialsStore(raw)
		if err != nil || kind+" "+where != want {
			t.Errorf("%s: %s %s %v", raw, kind, where, err)
		}
	}
	for _, bad := range []string{"gcpsm://acme", "gcpsm://projects/", "gcpsm://projects/a/secrets/b", "file://", "s3://x", ""} {
		if _, _, err := config.ParseCredentialsStore(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseCredentialsStore: any string gives a known kind with a non-empty place (a project
// without a path separator), or an error.
func FuzzParseCredentialsStore(f *testing.F) {
	f.Add("gcpsm://projects/acme-prod")
	f.Add("file://x")
	f.Fuzz(func(t *testing.T, s string) {
		kind, where, err := config.ParseCredentialsStore(s)
		switch {
		case err != nil:
		case where == "", kind != config.CredentialsFile && kind != config.CredentialsGCPSM,
			kind == config.CredentialsGCPSM && strings.ContainsAny(where, "/?#"):
			t.Fatalf("%q gave %q %q", s, kind, where)
		}
	})
}
