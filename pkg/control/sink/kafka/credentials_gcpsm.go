package kafka

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultGCPSMEndpoint is Secret Manager's REST endpoint.
const DefaultGCPSMEndpoint = "https://secretmanager.googleapis.com"

// SecretManagerCredentials keeps each team's password in GCP Secret Manager, one secret per
// team and environment: evctl-<env>-kafka-<team> (a team's dots become underscores; secret IDs
// allow letters, digits, - and _), its latest version the password. A password staged by Rotate
// is the secret <that>--next until Promote adds it as the new version and deletes it. A
// non-empty PasswordEnv(team) variable wins, as with FileCredentials.
//
// It speaks the v1 REST API (access, create, addVersion, delete) over Client, which carries the
// authentication (oauth2 from application default credentials in production). Credentials'
// methods take no context (the file store needs none), so each call runs under the store's
// base context with a timeout.
type SecretManagerCredentials struct {
	Project  string
	Env      string
	Endpoint string // DefaultGCPSMEndpoint unless overridden
	Client   *http.Client
	// Base is the context calls run under (the command's); Timeout bounds each call.
	Base    context.Context
	Timeout time.Duration
	lookup  func(string) (string, bool)
}

var _ Credentials = (*SecretManagerCredentials)(nil)

// NewSecretManagerCredentials returns the store of env's team passwords in project. lookupEnv
// reads the override variables (nil: none).
func NewSecretManagerCredentials(ctx context.Context, project, env, endpoint string, client *http.Client, lookupEnv func(string) (string, bool)) *SecretManagerCredentials {
	if endpoint == "" {
		endpoint = DefaultGCPSMEndpoint
	}
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	return &SecretManagerCredentials{Project: project, Env: env, Endpoint: strings.TrimSuffix(endpoint, "/"), Client: client,
		Base: ctx, Timeout: 30 * time.Second, lookup: lookupEnv}
}

// SecretID is the secret holding team's password.
func (s *SecretManagerCredentials) SecretID(team string) string {
	return "evctl-" + s.Env + "-kafka-" + strings.ReplaceAll(team, ".", "_")
}

func (s *SecretManagerCredentials) nextID(team string) string { return s.SecretID(team) + "--next" }

// errNoVersion is a secret that does not exist or has no version yet.
var errNoVersion = errors.New("no such secret version")

// Password implements Credentials. A missing secret is created with a new password; when
// another process creates it first, its password is used.
func (s *SecretManagerCredentials) Password(team string) (string, bool, error) {
	if err := checkTeam(team); err != nil {
		return "", false, err
	}
	if pw, ok := s.lookup(PasswordEnv(team)); ok && pw != "" {
		return pw, false, nil
	}
	id := s.SecretID(team)
	pw, err := s.access(id)
	if err == nil || !errors.Is(err, errNoVersion) {
		return pw, false, s.wrap(team, err)
	}
	created, err := s.create(id)
	if err != nil {
		return "", false, s.wrap(team, err)
	}
	if !created { // another process made the secret: its first version is the password
		if pw, err := s.access(id); !errors.Is(err, errNoVersion) {
			return pw, false, s.wrap(team, err)
		}
		// It made the secret and stopped before its first version: this run finishes the job.
	}
	if pw, err = newPassword(); err != nil {
		return "", false, s.wrap(team, err)
	}
	if err := s.addVersion(id, pw); err != nil {
		return "", false, s.wrap(team, err)
	}
	return pw, true, nil
}

// Rotate implements Credentials: a new password in the staging secret (replacing one staged
// before). A password from PasswordEnv(team) is refused, as by FileCredentials.
func (s *SecretManagerCredentials) Rotate(team string) (string, error) {
	if err := checkTeam(team); err != nil {
		return "", err
	}
	if pw, ok := s.lookup(PasswordEnv(team)); ok && pw != "" {
		return "", fmt.Errorf("kafka: rotate credentials for team %q: the password comes from $%s; change it there", team, PasswordEnv(team))
	}
	pw, err := newPassword()
	if err != nil {
		return "", s.wrap(team, err)
	}
	if _, err := s.create(s.nextID(team)); err != nil {
		return "", s.wrap(team, err)
	}
	if err := s.addVersion(s.nextID(team), pw); err != nil {
		return "", s.wrap(team, err)
	}
	return pw, nil
}

// Pending implements Credentials.
func (s *SecretManagerCredentials) Pending(team string) (string, bool, error) {
	if err := checkTeam(team); err != nil {
		return "", false, err
	}
	pw, err := s.access(s.nextID(team))
	switch {
	case errors.Is(err, errNoVersion):
		return "", false, nil
	case err != nil:
		return "", false, s.wrap(team, err)
	}
	return pw, true, nil
}

// Promote implements Credentials: the staged password becomes the latest version of the team's
// secret, then the staging secret is deleted. Without one it does nothing.
func (s *SecretManagerCredentials) Promote(team string) error {
	pw, ok, err := s.Pending(team)
	if err != nil || !ok {
		return err
	}
	id := s.SecretID(team)
	if _, err := s.create(id); err != nil {
		return s.wrap(team, err)
	}
	if err := s.addVersion(id, pw); err != nil {
		return s.wrap(team, err)
	}
	return s.wrap(team, s.delete(s.nextID(team)))
}

// Exists implements Credentials.
func (s *SecretManagerCredentials) Exists(team string) (bool, error) {
	if err := checkTeam(team); err != nil {
		return false, err
	}
	if pw, ok := s.lookup(PasswordEnv(team)); ok && pw != "" {
		return true, nil
	}
	_, err := s.access(s.SecretID(team))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errNoVersion):
		return false, nil
	}
	return false, s.wrap(team, err)
}

func (s *SecretManagerCredentials) wrap(team string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("kafka: credentials for team %q in gcpsm://projects/%s: %w", team, s.Project, err)
}

// The REST shapes of Secret Manager v1 that the store uses.
type (
	smPayload struct {
		Data       string `json:"data"`                 // base64
		DataCrc32c string `json:"dataCrc32c,omitempty"` // int64 as a decimal string
	}
	smAccessResponse struct {
		Name    string    `json:"name"`
		Payload smPayload `json:"payload"`
	}
	smError struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (s *SecretManagerCredentials) secretURL(id string) string {
	return s.Endpoint + "/v1/projects/" + url.PathEscape(s.Project) + "/secrets/" + url.PathEscape(id)
}

// access reads the latest version of secret id, checking its CRC32C when the server sent one.
func (s *SecretManagerCredentials) access(id string) (string, error) {
	var resp smAccessResponse
	if err := s.call(http.MethodGet, s.secretURL(id)+"/versions/latest:access", nil, &resp); err != nil {
		return "", err
	}
	data, err := base64.StdEncoding.DecodeString(resp.Payload.Data)
	if err != nil {
		return "", fmt.Errorf("secret %s: payload is not base64", id)
	}
	if resp.Payload.DataCrc32c != "" && resp.Payload.DataCrc32c != strconv.FormatUint(uint64(crc32.Checksum(data, castagnoli)), 10) {
		return "", fmt.Errorf("secret %s: payload does not match its CRC32C", id)
	}
	pw := strings.TrimSpace(string(data))
	if pw == "" {
		return "", fmt.Errorf("secret %s: the latest version is empty", id)
	}
	return pw, nil
}

// create makes secret id (automatic replication, labelled as evctl's); created is false when
// it already exists.
func (s *SecretManagerCredentials) create(id string) (created bool, err error) {
	body := map[string]any{"replication": map[string]any{"automatic": map[string]any{}},
		"labels": map[string]string{"managed-by": "evctl", "evctl-env": strings.ToLower(s.Env)}}
	u := s.Endpoint + "/v1/projects/" + url.PathEscape(s.Project) + "/secrets?secretId=" + url.QueryEscape(id)
	err = s.call(http.MethodPost, u, body, nil)
	var se *smStatusError
	if errors.As(err, &se) && se.code == http.StatusConflict {
		return false, nil
	}
	return err == nil, err
}

func (s *SecretManagerCredentials) addVersion(id, pw string) error {
	data := []byte(pw)
	body := map[string]any{"payload": smPayload{Data: base64.StdEncoding.EncodeToString(data),
		DataCrc32c: strconv.FormatUint(uint64(crc32.Checksum(data, castagnoli)), 10)}}
	return s.call(http.MethodPost, s.secretURL(id)+":addVersion", body, nil)
}

func (s *SecretManagerCredentials) delete(id string) error {
	err := s.call(http.MethodDelete, s.secretURL(id), nil, nil)
	if errors.Is(err, errNoVersion) {
		return nil
	}
	return err
}

// smStatusError is a non-2xx answer: its status and Secret Manager's message (which names the
// secret, never its payload).
type smStatusError struct {
	code    int
	status  string
	message string
}

func (e *smStatusError) Error() string {
	return fmt.Sprintf("secret manager: %d %s: %s", e.code, e.status, e.message)
}

// call sends one request; a 404 is errNoVersion (wrapped with the server's message).
func (s *SecretManagerCredentials) call(method, u string, in, out any) error {
	ctx, cancel := context.WithTimeout(s.Base, s.Timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("secret manager: %s: %w", method, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("secret manager: %s: %w", method, err)
	}
	if resp.StatusCode/100 != 2 {
		var e smError
		_ = json.Unmarshal(b, &e)
		se := &smStatusError{code: resp.StatusCode, status: e.Error.Status, message: e.Error.Message}
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: %w", errNoVersion, se)
		}
		return se
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("secret manager: %s: answer: %w", method, err)
		}
	}
	return nil
}
