package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
)

type teamToken struct {
	team string
	hash [sha256.Size]byte
}

// ParseTokens parses the value of gateway.tokens_env: "team=token" pairs separated by commas.
// Empty entries are ignored; a malformed pair or a repeated team is an error (naming the team,
// never the token).
func ParseTokens(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		team, tok, ok := strings.Cut(pair, "=")
		team, tok = strings.TrimSpace(team), strings.TrimSpace(tok)
		if !ok || team == "" || tok == "" {
			return nil, fmt.Errorf("gateway: tokens: want team=token pairs separated by commas")
		}
		if _, dup := out[team]; dup {
			return nil, fmt.Errorf("gateway: tokens: team %q appears twice", team)
		}
		out[team] = tok
	}
	return out, nil
}

// checkTokens refuses a token shared by two teams (the gateway could not tell which team is
// publishing) and, when teams is set, a token for a team evctl.yaml does not declare. Errors
// name teams, never tokens.
func checkTokens(tokens map[string]string, teams []string) error {
	known := map[string]bool{}
	for _, t := range teams {
		known[t] = true
	}
	byToken := map[string]string{}
	for _, team := range slices.Sorted(maps.Keys(tokens)) {
		if teams != nil && !known[team] {
			return fmt.Errorf("gateway: tokens: team %q is not a team of evctl.yaml", team)
		}
		if other, dup := byToken[tokens[team]]; dup {
			return fmt.Errorf("gateway: tokens: teams %q and %q have the same token", other, team)
		}
		byToken[tokens[team]] = team
	}
	return nil
}

// hashTokens keeps only the tokens' hashes: the gateway never holds a token in the clear after
// start, and compares hashes in constant time.
func hashTokens(tokens map[string]string) []teamToken {
	out := make([]teamToken, 0, len(tokens))
	for team, tok := range tokens {
		out = append(out, teamToken{team: team, hash: sha256.Sum256([]byte(tok))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].team < out[j].team })
	return out
}

// authenticate returns the team of the request's bearer token. ok is false when tokens are
// configured and the request has none or an unknown one. Without tokens every request is
// accepted as team "".
func (g *Gateway) authenticate(header http.Header) (team string, ok bool) {
	if len(g.tokens) == 0 {
		return "", true
	}
	tok, found := strings.CutPrefix(header.Get("Authorization"), "Bearer ")
	if !found || tok == "" {
		return "", false
	}
	h := sha256.Sum256([]byte(tok))
	match := ""
	for _, t := range g.tokens {
		// Every hash is compared, so the time taken does not say which team matched.
		if subtle.ConstantTimeCompare(h[:], t.hash[:]) == 1 {
			match = t.team
		}
	}
	return match, match != ""
}

// authorized reports whether team may publish event.
func (g *Gateway) authorized(team, event string) bool {
	if len(g.tokens) == 0 || g.cfg.Producers == nil {
		return true
	}
	for _, p := range g.cfg.Producers(event) {
		if p == team {
			return true
		}
	}
	return false
}
