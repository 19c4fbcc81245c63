// Package synth generates a synthetic contracts repository for benchmarks: an evctl.yaml, N events
// across a dozen domains (10-40 fields each, nested records, enums, repeated fields, maps,
// timestamps), about a third of them raw .proto contracts, deterministic for a seed. It writes the
// fresh gen/proto that `evctl generate` would write and a buf-src/ copy of it with a buf.yaml, so
// `buf build` can compile exactly the protos evctl compiles. It is a test and benchmark aid: no
// product code imports it.
package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Options tune a generated repository.
type Options struct {
	// N is the number of events (default 1200).
	N int
	// Seed makes the output deterministic: the same N and Seed give the same bytes.
	Seed uint64
	// RawEvery makes every RawEvery-th event a raw .proto contract (default 3).
	RawEvery int
}

func (o Options) withDefaults() Options {
	if o.N <= 0 {
		o.N = 1200
	}
	if o.RawEvery <= 0 {
		o.RawEvery = 3
	}
	return o
}

// domain is one folder of contracts with its owning team and pod.
type domain struct{ name, team, pod string }

// domains are the 12 folders events are spread over; teams and pods match teamsYAML.
var domains = []domain{
	{"feed", "growth", "feed"}, {"notifications", "growth", "notifications"},
	{"studio", "creators", "studio"}, {"posts", "creators", "posts"},
	{"accounts", "identity", "accounts"}, {"onboarding", "identity", "onboarding"},
	{"checkout", "payments", "checkout"}, {"wallet", "payments", "wallet"},
	{"search", "discovery", "search"}, {"ads", "discovery", "ads"},
	{"chat", "social", "chat"}, {"live", "social", "live"},
}

var (
	nouns = []string{"video", "post", "comment", "profile", "story", "reel", "sticker", "gift", "order",
		"payment", "coupon", "session", "message", "stream", "query", "banner", "creator", "badge", "invite", "report"}
	verbs = []string{"played", "shared", "liked", "viewed", "created", "deleted", "opened", "closed",
		"started", "completed", "failed", "clicked", "sent", "received", "updated", "reported"}
	words = []string{"device", "model", "locale", "country", "network", "carrier", "screen", "position",
		"duration_ms", "latency_ms", "bytes_sent", "bytes_received", "retry_count", "score", "rank", "source",
		"target", "surface", "section", "campaign", "variant", "experiment", "language", "timezone", "amount",
		"currency", "quantity", "price", "discount", "reason", "status", "result", "error_code", "category",
		"tag", "label", "title", "caption", "width", "height", "bitrate", "codec", "quality", "volume",
		"referrer", "medium", "channel", "cohort", "segment", "tier", "level", "step", "attempt", "origin",
		"client_version", "build", "os_version", "app_version", "ip_country", "region", "city", "zone"}
	scalars  = []string{"string", "string", "string", "int64", "int64", "int32", "uint32", "uint64", "bool", "double", "float", "bytes"}
	mapKeys  = []string{"string", "string", "int64", "int32"}
	mapVals  = []string{"string", "int64", "double", "bool", "timestamp"}
	enumVals = []string{"UNKNOWN_KIND", "AUTO", "LOW", "MEDIUM", "HIGH", "ANDROID", "IOS", "WEB", "FREE", "PAID",
		"TRIAL", "ACTIVE", "PAUSED", "DONE", "ERROR", "RETRY"}
)

// field is one generated field, shared by the YAML and the raw .proto writers.
type field struct {
	name, typ, mode string // mode: "", required or repeated
	num             int
	desc            string
	values          []string // enum values, already prefixed so they never clash in a scope
	fields          []field  // record fields
	key, val        string   // map key and value types
}

// event is one generated contract.
type event struct {
	name   string
	dom    domain
	stage  string
	raw    bool
	desc   string
	fields []field
}

func (e *event) message() string { return pascal(e.name) }

// gen holds the random source of one run.
type gen struct{ r *rand.Rand }

func (g *gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

// between returns a number in [lo, hi].
func (g *gen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

func (g *gen) event(i int, o Options) *event {
	d := domains[i%len(domains)]
	noun, verb := g.pick(nouns), g.pick(verbs)
	ev := &event{
		name:  fmt.Sprintf("%s_%s_%04d", noun, verb, i),
		dom:   d,
		stage: []string{"staging", "prod"}[g.r.IntN(2)],
		raw:   (i/len(domains))%o.RawEvery == o.RawEvery-1, // a third of every domain
		desc:  fmt.Sprintf("A user's %s was %s (synthetic event %d).", noun, verb, i),
	}
	n := g.between(10, 40)
	ev.fields = append(ev.fields,
		field{name: noun + "_id", typ: "string", mode: "required", num: 1, desc: "The " + noun + " the event is about."},
		field{name: "duration_ms", typ: "int64", num: 2, desc: "How long it took, in milliseconds."},
		field{name: "kind", typ: "enum", num: 3, values: g.enumValues("kind")},
	)
	used := map[string]bool{noun + "_id": true, "duration_ms": true, "kind": true}
	ev.fields = append(ev.fields, g.fields(n-3, 4, used, 1)...)
	return ev
}

// fields returns n fields numbered from first; depth is the record level (1 = the event).
func (g *gen) fields(n, first int, used map[string]bool, depth int) []field {
	out := make([]field, 0, n)
	for j := 0; j < n; j++ {
		f := field{name: g.name(used), num: first + j}
		if g.r.IntN(4) == 0 {
			f.desc = "The " + strings.ReplaceAll(f.name, "_", " ") + " as the client saw it."
		}
		switch k := g.r.IntN(20); {
		case k < 10:
			f.typ = g.pick(scalars)
		case k < 12:
			f.typ = "timestamp"
		case k == 12 && depth == 1:
			f.typ = "date"
		case k < 15:
			f.typ = "enum"
			f.values = g.enumValues(f.name)
		case k < 17 && depth < 3:
			f.typ = "record"
			f.fields = g.fields(g.between(2, 6), 1, map[string]bool{}, depth+1)
		case k == 17:
			f.typ, f.key, f.val = "map", g.pick(mapKeys), g.pick(mapVals)
		default:
			f.typ = g.pick(scalars)
		}
		if f.typ != "map" && g.r.IntN(6) == 0 {
			f.mode = "repeated"
		}
		out = append(out, f)
	}
	return out
}

// name picks a field name not yet used in its record.
func (g *gen) name(used map[string]bool) string {
	n := g.pick(words)
	for i := 2; used[n]; i++ {
		n = fmt.Sprintf("%s_%d", g.pick(words), i)
	}
	used[n] = true
	return n
}

// enumValues prefixes values with the enum's name, as proto's shared enum scope requires.
func (g *gen) enumValues(fieldName string) []string {
	prefix := upperSnake(fieldName)
	n := g.between(2, 6)
	start := g.r.IntN(len(enumVals))
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + "_" + enumVals[(start+i)%len(enumVals)]
	}
	return out
}

func pascal(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

func upperSnake(s string) string { return strings.ToUpper(s) }
