// Package gcpsmfake is a fake of the part of GCP Secret Manager's v1 REST API that evctl's
// credentials store uses (access the latest version, create a secret, add a version, delete a
// secret), following the reference's request and response shapes, status codes and CRC32C
// checks. No Secret Manager emulator exists; tests that use this fake say FakeSecretManager in
// their names.
package gcpsmfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Server is a running fake, for one project.
type Server struct {
	URL     string
	Project string
	// Token is the bearer token every request must carry ("" accepts requests without one,
	// as through EVCTL_GCPSM_ENDPOINT).
	Token string

	mu      sync.Mutex
	secrets map[string]*secret
}

type secret struct {
	labels   map[string]string
	versions [][]byte
}

// Start starts a fake for project on a loopback port, closed when tb ends.
func Start(tb testing.TB, project, token string) *Server {
	s := &Server{Project: project, Token: token, secrets: map[string]*secret{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Versions returns the payloads of secret id, oldest first (nil when it does not exist).
func (s *Server) Versions(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[id]
	if !ok {
		return nil
	}
	out := make([]string, len(sec.versions))
	for i, v := range sec.versions {
		out[i] = string(v)
	}
	return out
}

// Labels returns secret id's labels.
func (s *Server) Labels(id string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec, ok := s.secrets[id]; ok {
		return sec.labels
	}
	return nil
}

// SecretIDs lists the secrets.
func (s *Server) SecretIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.secrets {
		out = append(out, id)
	}
	return out
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func fail(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.Token {
		fail(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
		return
	}
	prefix := "/v1/projects/" + s.Project + "/secrets"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		fail(w, http.StatusForbidden, "PERMISSION_DENIED", "Permission denied on resource project "+strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/projects/"), "/")[0]+".")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := func(id string) string { return "projects/" + s.Project + "/secrets/" + id }
	w.Header().Set("Content-Type", "application/json")
	switch {
	case rest == "" && r.Method == http.MethodPost:
		id := r.URL.Query().Get("secretId")
		var in struct {
			Replication map[string]any    `json:"replication"`
			Labels      map[string]string `json:"labels"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Replication) == 0 || id == "" {
			fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Secret.replication and secretId are required.")
			return
		}
		if _, ok := s.secrets[id]; ok {
			fail(w, http.StatusConflict, "ALREADY_EXISTS", "Secret ["+name(id)+"] already exists.")
			return
		}
		s.secrets[id] = &secret{labels: in.Labels}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": name(id), "replication": in.Replication, "labels": in.Labels, "createTime": "2026-12-03T00:00:00Z"})
	case strings.HasSuffix(rest, "/versions/latest:access") && r.Method == http.MethodGet:
		id := strings.TrimSuffix(strings.TrimPrefix(rest, "/"), "/versions/latest:access")
		sec, ok := s.secrets[id]
		if !ok || len(sec.versions) == 0 {
			fail(w, http.StatusNotFound, "NOT_FOUND", "Secret ["+name(id)+"] not found or has no versions.")
			return
		}
		data := sec.versions[len(sec.versions)-1]
		_ = json.NewEncoder(w).Encode(map[string]any{"name": fmt.Sprintf("%s/versions/%d", name(id), len(sec.versions)),
			"payload": map[string]string{"data": base64.StdEncoding.EncodeToString(data), "dataCrc32c": strconv.FormatUint(uint64(crc32.Checksum(data, castagnoli)), 10)}})
	case strings.HasSuffix(rest, ":addVersion") && r.Method == http.MethodPost:
		id := strings.TrimSuffix(strings.TrimPrefix(rest, "/"), ":addVersion")
		sec, ok := s.secrets[id]
		if !ok {
			fail(w, http.StatusNotFound, "NOT_FOUND", "Secret ["+name(id)+"] not found.")
			return
		}
		var in struct {
			Payload struct {
				Data       string `json:"data"`
				DataCrc32c string `json:"dataCrc32c"`
			} `json:"payload"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload.")
			return
		}
		data, err := base64.StdEncoding.DecodeString(in.Payload.Data)
		if err != nil || len(data) == 0 {
			fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "SecretPayload.data is required.")
			return
		}
		if in.Payload.DataCrc32c != "" && in.Payload.DataCrc32c != strconv.FormatUint(uint64(crc32.Checksum(data, castagnoli)), 10) {
			fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Checksum mismatch.")
			return
		}
		sec.versions = append(sec.versions, data)
		_ = json.NewEncoder(w).Encode(map[string]any{"name": fmt.Sprintf("%s/versions/%d", name(id), len(sec.versions)), "state": "ENABLED"})
	case r.Method == http.MethodDelete && strings.Count(rest, "/") == 1:
		id := strings.TrimPrefix(rest, "/")
		if _, ok := s.secrets[id]; !ok {
			fail(w, http.StatusNotFound, "NOT_FOUND", "Secret ["+name(id)+"] not found.")
			return
		}
		delete(s.secrets, id)
		_, _ = w.Write([]byte("{}\n"))
	default:
		fail(w, http.StatusNotFound, "NOT_FOUND", "Method not found.")
	}
}
