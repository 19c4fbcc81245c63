package cli_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeGitHubAPI is a fake of the three GitHub REST endpoints the workflow's comment step calls
// (no GitHub exists here, so the tests that use it say FakeGitHubAPI in their names): list an
// issue's comments (paginated with per_page and page), create one, update one. It checks the
// bearer token, refuses a body over GitHub's 65,536 characters (422, as GitHub does) and lets
// the token edit only the comments it made.
type fakeGitHubAPI struct {
	srv   *httptest.Server
	token string
	repo  string
	mu    sync.Mutex
	next  int64
	// comments per issue number, in creation order.
	comments map[string][]*ghComment
	calls    []string // "METHOD path"
}

type ghComment struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
	User struct {
		Login string `json:"login"`
		Type  string `json:"type"`
	} `json:"user"`
}

func newFakeGitHubAPI(t *testing.T, repo, token string) *fakeGitHubAPI {
	f := &fakeGitHubAPI{token: token, repo: repo, next: 1000, comments: map[string][]*ghComment{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// addComment adds a comment by someone other than the workflow's token.
func (f *fakeGitHubAPI) addComment(issue, login, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &ghComment{ID: f.next, Body: body}
	f.next++
	c.User.Login, c.User.Type = login, "User"
	f.comments[issue] = append(f.comments[issue], c)
}

func (f *fakeGitHubAPI) list(issue string) []ghComment {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ghComment
	for _, c := range f.comments[issue] {
		out = append(out, *c)
	}
	return out
}

func (f *fakeGitHubAPI) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeGitHubAPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	prefix := "/repos/" + f.repo + "/issues/"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	readBody := func() (string, bool) {
		var in struct {
			Body *string `json:"body"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == nil {
			http.Error(w, `{"message":"Problems parsing JSON"}`, http.StatusBadRequest)
			return "", false
		}
		if len([]rune(*in.Body)) > 65536 {
			http.Error(w, `{"message":"Validation Failed","errors":[{"message":"body is too long (maximum is 65536 characters)"}]}`, http.StatusUnprocessableEntity)
			return "", false
		}
		return *in.Body, true
	}
	w.Header().Set("Content-Type", "application/json")
	switch parts := strings.Split(rest, "/"); {
	case len(parts) == 2 && parts[1] == "comments" && r.Method == http.MethodGet:
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if per <= 0 || per > 100 {
			per = 30
		}
		if page <= 0 {
			page = 1
		}
		all := f.comments[parts[0]]
		lo, hi := min((page-1)*per, len(all)), min(page*per, len(all))
		_ = json.NewEncoder(w).Encode(append([]*ghComment{}, all[lo:hi]...))
	case len(parts) == 2 && parts[1] == "comments" && r.Method == http.MethodPost:
		body, ok := readBody()
		if !ok {
			return
		}
		c := &ghComment{ID: f.next, Body: body}
		f.next++
		c.User.Login, c.User.Type = "github-actions[bot]", "Bot"
		f.comments[parts[0]] = append(f.comments[parts[0]], c)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(c)
	case len(parts) == 2 && parts[0] == "comments" && r.Method == http.MethodPatch:
		id, _ := strconv.ParseInt(parts[1], 10, 64)
		for _, cs := range f.comments {
			for _, c := range cs {
				if c.ID != id {
					continue
				}
				if c.User.Type != "Bot" {
					http.Error(w, `{"message":"Resource not accessible by integration"}`, http.StatusForbidden)
					return
				}
				body, ok := readBody()
				if !ok {
					return
				}
				c.Body = body
				_ = json.NewEncoder(w).Encode(c)
				return
			}
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}
