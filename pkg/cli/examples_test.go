package cli_test

import (
	"testing"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/cli"
)

// TestEveryCommandHasExamples walks the command tree: every runnable command's help shows
// examples (SPEC-dataplane 13), each starting with the command's own path.
func TestEveryCommandHasExamples(t *testing.T) {
	root := cli.NewRoot(&cli.App{IO: &cli.IOStreams{}})
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.Hidden || c == root || c.Name() == "help" || c.Name() == "completion" && c.Parent() == root {
			return
		}
		n++
		if c.Example == "" {
			t.Errorf("%s has no Example", c.CommandPath())
			return
		}
		if !containsPath(c.Example, c.CommandPath()) {
			t.Errorf("%s: the examples do not run %q:\n%s", c.CommandPath(), c.CommandPath(), c.Example)
		}
	}
	walk(root)
	if n < 20 {
		t.Fatalf("walked %d commands, want the whole tree", n)
	}
}

func containsPath(example, path string) bool {
	for i := 0; i+len(path) <= len(example); i++ {
		if example[i:i+len(path)] == path {
			return true
		}
	}
	return false
}
