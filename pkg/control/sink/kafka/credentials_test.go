package kafka_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink/kafka"
)

func noEnv(string) (string, bool) { return "", false }

func TestFileCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "creds")
	c := kafka.NewFileCredentials(dir, noEnv)

	if ok, err := c.Exists("growth"); ok || err != nil {
		t.Fatalf("Exists before any password = %v, %v", ok, err)
	}
	pw1, created, err := c.Password("growth")
	if err != nil || !created || len(pw1) != 43 {
		t.Fatalf("first Password = len %d, created %v, %v; want a new 43-char password", len(pw1), created, err)
	}
	pw2, created, err := c.Password("growth")
	if err != nil || created || pw2 != pw1 {
		t.Fatalf("second Password: created %v, same %v, %v; want the stored one", created, pw2 == pw1, err)
	}
	if ok, err := c.Exists("growth"); !ok || err != nil {
		t.Fatalf("Exists after Password = %v, %v", ok, err)
	}
	other, _, _ := kafka.NewFileCredentials(dir, noEnv).Password("growth")
	if other != pw1 {
		t.Fatal("a second store over the same directory reads another password")
	}

	for path, want := range map[string]os.FileMode{dir: 0o700, c.Path("growth"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %o, want %o", path, got, want)
		}
	}

	rotated, err := c.Rotate("growth")
	if err != nil || rotated == pw1 {
		t.Fatalf("Rotate: same %v, %v", rotated == pw1, err)
	}
	// Staged, not yet in use: the current password stays until Promote (after the broker has it).
	if pw3, _, _ := c.Password("growth"); pw3 != pw1 {
		t.Fatal("Rotate replaced the password before it was promoted")
	}
	if staged, ok, err := c.Pending("growth"); err != nil || !ok || staged != rotated {
		t.Fatalf("Pending: %v %v", ok, err)
	}
	if err := c.Promote("growth"); err != nil {
		t.Fatal(err)
	}
	if pw3, _, _ := c.Password("growth"); pw3 != rotated {
		t.Fatal("Password after Promote is not the rotated one")
	}
	if _, ok, _ := c.Pending("growth"); ok {
		t.Fatal("still pending after Promote")
	}
	if fi, _ := os.Stat(c.Path("growth")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after rotate %o", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only growth.password (no temporary files)", len(entries))
	}
}

func TestFileCredentialsEnvOverride(t *testing.T) {
	env := map[string]string{"EVCTL_KAFKA_PASSWORD_DATA_SCIENCE": "from-env"}
	c := kafka.NewFileCredentials(t.TempDir(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if got := kafka.PasswordEnv("data-science"); got != "EVCTL_KAFKA_PASSWORD_DATA_SCIENCE" {
		t.Fatalf("PasswordEnv = %q", got)
	}
	pw, created, err := c.Password("data-science")
	if err != nil || created || pw != "from-env" {
		t.Fatalf("Password = %q, %v, %v; want the variable", pw, created, err)
	}
	if _, err := os.Stat(c.Path("data-science")); !os.IsNotExist(err) {
		t.Errorf("an overridden password was written to disk: %v", err)
	}
	if _, err := c.Rotate("data-science"); err == nil || strings.Contains(err.Error(), "from-env") ||
		!strings.Contains(err.Error(), "EVCTL_KAFKA_PASSWORD_DATA_SCIENCE") {
		t.Fatalf("Rotate of an overridden password: %v", err)
	}
}

func TestFileCredentialsRejectsBadTeams(t *testing.T) {
	c := kafka.NewFileCredentials(t.TempDir(), noEnv)
	for _, team := range []string{"", "../etc", "a/b", ".hidden"} {
		if _, _, err := c.Password(team); err == nil {
			t.Errorf("Password(%q): want error", team)
		}
	}
}
