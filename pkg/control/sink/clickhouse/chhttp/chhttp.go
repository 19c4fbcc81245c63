// Package chhttp is a small client of ClickHouse's HTTP interface, the one protocol that works
// fully on every server evctl supports (Debian's 18.16 included): statements are POSTed, settings
// go in the URL (18.16 has no SETTINGS clause for them), results come back as JSONEachRow and
// errors as a non-200 status with the server's message. Credentials go in HTTP basic auth, never
// in the URL, so no error or log line can carry them. It knows nothing of evctl's tables.
package chhttp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client talks to one server.
type Client struct {
	base     string
	user     string
	password string
	hc       *http.Client
}

// New returns a client of the server at rawURL ("http://127.0.0.1:8123"). user and password may
// be empty (the default user).
func New(rawURL, user, password string) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("clickhouse: url %q: want http://host:port", rawURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("clickhouse: url must not carry credentials; use user_env and password_env")
	}
	return &Client{base: strings.TrimRight(u.String(), "/") + "/", user: user, password: password, hc: &http.Client{}}, nil
}

// Error is a statement the server refused.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("clickhouse: server said (%d): %s", e.Status, e.Message)
}

// Exec runs one statement that returns no rows.
func (c *Client) Exec(ctx context.Context, sql string, settings map[string]string) error {
	body, err := c.do(ctx, sql, settings, nil)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, body)
	return body.Close()
}

// Insert streams data as the body of query (which ends with "FORMAT <name>").
func (c *Client) Insert(ctx context.Context, query string, settings map[string]string, data io.Reader) error {
	body, err := c.do(ctx, query, settings, data)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, body)
	return body.Close()
}

// Query runs a SELECT and decodes each row (FORMAT JSONEachRow is appended) with fn.
func (c *Client) Query(ctx context.Context, sql string, fn func(row json.RawMessage) error) error {
	body, err := c.do(ctx, sql+" FORMAT JSONEachRow", nil, nil)
	if err != nil {
		return err
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := fn(json.RawMessage(line)); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("clickhouse: reading result: %w", err)
	}
	return nil
}

// QueryInto runs a SELECT and appends each row decoded into a new T.
func QueryInto[T any](ctx context.Context, c *Client, sql string) ([]T, error) {
	var out []T
	err := c.Query(ctx, sql, func(row json.RawMessage) error {
		var v T
		if err := json.Unmarshal(row, &v); err != nil {
			return fmt.Errorf("clickhouse: decoding row %s: %w", row, err)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// Version returns SELECT version(): "18.16.1".
func (c *Client) Version(ctx context.Context) (string, error) {
	rows, err := QueryInto[struct {
		V string `json:"v"`
	}](ctx, c, "SELECT version() AS v")
	if err != nil {
		return "", err
	}
	if len(rows) != 1 {
		return "", fmt.Errorf("clickhouse: version(): %d rows", len(rows))
	}
	return rows[0].V, nil
}

func (c *Client) do(ctx context.Context, query string, settings map[string]string, data io.Reader) (io.ReadCloser, error) {
	v := url.Values{}
	for k, s := range settings {
		v.Set(k, s)
	}
	var req *http.Request
	var err error
	if data == nil {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.base+"?"+v.Encode(), strings.NewReader(query))
	} else {
		v.Set("query", query)
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.base+"?"+v.Encode(), data)
	}
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	if c.user != "" || c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %s: %w", firstWords(query), err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return nil, &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(msg))}
	}
	return resp.Body, nil
}

// firstWords names a statement in an error without echoing all of it.
func firstWords(q string) string {
	f := strings.Fields(q)
	if len(f) > 4 {
		f = f[:4]
	}
	return strings.Join(f, " ")
}

// Quote returns s as a ClickHouse string literal.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Ident returns name as a back-quoted identifier (column names such as "device.model" need it).
func Ident(name string) string {
	return "`" + strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(name) + "`"
}
