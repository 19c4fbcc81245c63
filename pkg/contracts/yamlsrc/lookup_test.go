package yamlsrc

import (
	"testing"
)

// TestLookupMatchesIndex checks that walking the tree finds, for every path, the node a full
// path index holds, including keys with dots and brackets that make two nodes share a path.
func TestLookupMatchesIndex(t *testing.T) {
	for _, src := range []string{
		"name: a\nschema:\n  fields:\n    - {name: x, number: 1}\n    - name: y\n      fields: [{name: z}]\n",
		"a.b: 1\na:\n  b: 2\n",
		"a:\n  b: 2\na.b: 1\n",
		"\"\": 1\nx: [[1, 2], [3, [4, {k: v}]]]\n",
		"x[0]: 1\nx: [5]\n",
		"x: [5]\nx[0]: 1\n\"x[0]#key\": 2\n",
		"- a\n- {b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}\n",
		"k: &a {x: 1}\nl: *a\nm: {\"\": {\"\": 3}}\n",
		"scalar\n",
	} {
		d, ds := Parse("f.yaml", []byte(src))
		if d == nil {
			t.Fatalf("%q: %v", src, ds)
		}
		idx := map[string]bool{}
		for p, n := range d.index() {
			idx[p] = true
			if got := d.lookup(p); got != n {
				t.Errorf("%q: lookup(%q) = %v, index has %v", src, p, got, n)
			}
		}
		for _, p := range []string{"nope", "x[01]", "x[-1]", "x[]", "x[9]", "b[1", "[1]x", "a.", ".a", "#key", "x[0]#key", "[1].b[11]", "[1].b[1]"} {
			if got := d.lookup(p); (got != nil) != idx[p] || (got != nil && got != d.index()[p]) {
				t.Errorf("%q: lookup(%q) = %v, index has %v", src, p, got, d.index()[p])
			}
		}
	}
}

// TestReleaseKeepsPositions checks that a released document finds every position it found before.
func TestReleaseKeepsPositions(t *testing.T) {
	src := "name: a\nname: dup\nschema:\n  fields:\n    - {name: x, number: 1}\n    - name: y\n      fields: [{name: z}]\n"
	d, _ := Parse("f.yaml", []byte(src))
	paths := []string{"nope", "name#key"}
	for p := range d.index() {
		paths = append(paths, p)
	}
	type got struct {
		pos, key string
		has      bool
	}
	at := func() map[string]got {
		m := map[string]got{}
		for _, p := range paths {
			m[p] = got{d.Pos(p).String(), d.KeyPos(p).String(), d.Has(p)}
		}
		return m
	}
	before := at()
	d.Release()
	if d.Root != nil {
		t.Fatal("Release kept the tree")
	}
	after := at()
	for _, p := range paths {
		if before[p] != after[p] {
			t.Errorf("%q: %+v before Release, %+v after", p, before[p], after[p])
		}
	}
}
