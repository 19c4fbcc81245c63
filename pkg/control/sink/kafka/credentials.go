package kafka

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Credentials supplies the SCRAM password of each team's Kafka user. Implementations must never
// put a password in an error.
type Credentials interface {
	// Password returns team's password, generating and storing one when none exists yet;
	// created reports that it did.
	Password(team string) (pw string, created bool, err error)
	// Rotate stages a new password for team and returns it. The current password stays in use
	// until Promote: the kafka_user sink sees the staged one (Pending), sets it on the broker,
	// and only then promotes it, so a rotation that is planned but not applied, or cut short,
	// never leaves the team with a password the broker refuses.
	Rotate(team string) (string, error)
	// Pending returns the password staged by Rotate and not yet promoted; ok is false when none.
	Pending(team string) (pw string, ok bool, err error)
	// Promote makes the staged password the team's password. Without one it does nothing.
	Promote(team string) error
	// Exists reports whether a password for team is available without creating one.
	Exists(team string) (bool, error)
}

// PasswordEnvPrefix is the prefix of the environment variable that overrides a team's stored
// password: EVCTL_KAFKA_PASSWORD_<TEAM>, see PasswordEnv.
const PasswordEnvPrefix = "EVCTL_KAFKA_PASSWORD_"

// PasswordEnv returns the variable that overrides team's password: PasswordEnvPrefix and the
// team upper-cased, with every character other than A-Z, 0-9 and _ turned into _.
func PasswordEnv(team string) string {
	var b strings.Builder
	b.WriteString(PasswordEnvPrefix)
	for _, r := range strings.ToUpper(team) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// FileCredentials keeps one password per team in <Dir>/<team>.password (mode 0600, directory
// 0700), generated once from 32 random bytes (base64url, no padding) and written atomically.
// A non-empty PasswordEnv(team) variable wins over the file. Safe for concurrent use, and two
// processes generating at once agree on one password (the first link wins).
type FileCredentials struct {
	dir    string
	lookup func(string) (string, bool)
	mu     sync.Mutex
}

// NewFileCredentials returns a store in dir (created on first write). lookupEnv reads the
// override variables; nil means os.LookupEnv.
func NewFileCredentials(dir string, lookupEnv func(string) (string, bool)) *FileCredentials {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	return &FileCredentials{dir: dir, lookup: lookupEnv}
}

var teamRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Path returns the file that holds team's password.
func (f *FileCredentials) Path(team string) string {
	return filepath.Join(f.dir, team+".password")
}

// Password implements Credentials. Errors name the team and the file, never the password.
func (f *FileCredentials) Password(team string) (string, bool, error) {
	if err := checkTeam(team); err != nil {
		return "", false, err
	}
	if pw, ok := f.lookup(PasswordEnv(team)); ok && pw != "" {
		return pw, false, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pw, err := f.read(team)
	if err == nil {
		return pw, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	pw, err = newPassword()
	if err != nil {
		return "", false, fmt.Errorf("kafka: credentials for team %q: %w", team, err)
	}
	if err := f.write(team, pw, false); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race: use its password
			pw, err = f.read(team)
			return pw, false, err
		}
		return "", false, err
	}
	return pw, true, nil
}

// Rotate implements Credentials: it writes a new password to <team>.password.next (over any
// staged before). It fails when the password comes from PasswordEnv(team), which only its owner
// can change.
func (f *FileCredentials) Rotate(team string) (string, error) {
	if err := checkTeam(team); err != nil {
		return "", err
	}
	if pw, ok := f.lookup(PasswordEnv(team)); ok && pw != "" {
		return "", fmt.Errorf("kafka: rotate credentials for team %q: the password comes from $%s; change it there", team, PasswordEnv(team))
	}
	pw, err := newPassword()
	if err != nil {
		return "", fmt.Errorf("kafka: rotate credentials for team %q: %w", team, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.writeFile(team, f.nextPath(team), pw, true); err != nil {
		return "", err
	}
	return pw, nil
}

func (f *FileCredentials) nextPath(team string) string { return f.Path(team) + ".next" }

// Pending implements Credentials.
func (f *FileCredentials) Pending(team string) (string, bool, error) {
	if err := checkTeam(team); err != nil {
		return "", false, err
	}
	b, err := os.ReadFile(f.nextPath(team))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("kafka: credentials for team %q: %w", team, err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", false, fmt.Errorf("kafka: credentials for team %q: %s is empty", team, f.nextPath(team))
	}
	return pw, true, nil
}

// Promote implements Credentials: it renames <team>.password.next over <team>.password.
func (f *FileCredentials) Promote(team string) error {
	if err := checkTeam(team); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	err := os.Rename(f.nextPath(team), f.Path(team))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("kafka: store credentials for team %q: %w", team, err)
	}
	if d, err := os.Open(f.dir); err == nil { // make the rename durable
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Exists implements Credentials.
func (f *FileCredentials) Exists(team string) (bool, error) {
	if err := checkTeam(team); err != nil {
		return false, err
	}
	if pw, ok := f.lookup(PasswordEnv(team)); ok && pw != "" {
		return true, nil
	}
	_, err := os.Stat(f.Path(team))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("kafka: credentials for team %q: %w", team, err)
}

func checkTeam(team string) error {
	if !teamRe.MatchString(team) {
		return fmt.Errorf("kafka: credentials: invalid team name %q", team)
	}
	return nil
}

func newPassword() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// read returns the stored password; a missing file is fs.ErrNotExist, unwrapped by errors.Is.
func (f *FileCredentials) read(team string) (string, error) {
	b, err := os.ReadFile(f.Path(team))
	if err != nil {
		return "", fmt.Errorf("kafka: credentials for team %q: %w", team, err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", fmt.Errorf("kafka: credentials for team %q: %s is empty", team, f.Path(team))
	}
	return pw, nil
}

// write stores pw through a temporary file in the same directory: renamed over the old file when
// replace is set, hard-linked (failing with fs.ErrExist if the file appeared) when not.
func (f *FileCredentials) write(team, pw string, replace bool) error {
	return f.writeFile(team, f.Path(team), pw, replace)
}

// writeFile is write to any file of team's.
func (f *FileCredentials) writeFile(team, path, pw string, replace bool) (err error) {
	wrap := func(err error) error { return fmt.Errorf("kafka: store credentials for team %q: %w", team, err) }
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return wrap(err)
	}
	if err := os.Chmod(f.dir, 0o700); err != nil {
		return wrap(err)
	}
	tmp, err := os.CreateTemp(f.dir, "."+team+".password.*")
	if err != nil {
		return wrap(err)
	}
	defer os.Remove(tmp.Name()) // after a rename or link this removes only the temporary name
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return wrap(err)
	}
	if _, err := tmp.WriteString(pw + "\n"); err != nil {
		tmp.Close()
		return wrap(err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return wrap(err)
	}
	if err := tmp.Close(); err != nil {
		return wrap(err)
	}
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil {
		return wrap(err)
	}
	if d, err := os.Open(f.dir); err == nil { // make the new name durable
		_ = d.Sync()
		d.Close()
	}
	return nil
}
