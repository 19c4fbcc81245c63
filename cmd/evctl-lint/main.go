// Command evctl-lint is `evctl lint` alone: the entry point of the pre-commit hook. It imports
// only the contracts side (workspace, lint), not the control plane, data plane or the embedded
// dev stack, so pre-commit builds it in seconds on every developer's machine instead of the
// whole evctl binary (TestLintEntryPointDeps keeps it that way). Findings, formats and exit
// codes are evctl lint's.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evctl-lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "path to evctl.yaml (default: ./evctl.yaml, searched upward)")
	format := fs.String("format", "text", "text, json or github")
	noCache := fs.Bool("no-cache", false, "check every event again, neither reading nor writing .evctl/cache")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: evctl-lint [--config FILE] [--format text|json|github] [--no-cache]\n\nLint the contracts repository as `evctl lint` does (exit 0 clean, 1 errors).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if fs.NArg() > 0 {
		// pre-commit passes file names unless told not to; the repository is linted whole.
		fmt.Fprintf(stderr, "evctl-lint: takes no arguments (got %q); the hook sets pass_filenames: false\n", fs.Args())
		return 1
	}
	switch *format {
	case "text", "json", "github":
	default:
		fmt.Fprintf(stderr, "evctl-lint: --format %q is not text, json or github\n", *format)
		return 1
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "evctl-lint: %v\n", err)
		return 1
	}
	today := time.Now().UTC().Format(time.DateOnly)
	if !*noCache {
		// The per-event cache of evctl lint (.evctl/cache/incr): only changed events are checked
		// again, with the findings of a run from scratch.
		rep, err := lint.CheckIncremental(ctx, *config, wd, lint.IncrOptions{Today: today})
		if err != nil {
			fmt.Fprintf(stderr, "evctl-lint: %v\n", err)
			return 1
		}
		return report(stdout, stderr, rep.Diags, rep.Events, *format)
	}
	ws, err := workspace.Open(*config, wd)
	if err != nil {
		fmt.Fprintf(stderr, "evctl-lint: %v\n", err)
		return 1
	}
	rep := lint.Check(ctx, ws, lint.Options{SkipSourceInfo: true, Today: today})
	return report(stdout, stderr, rep.Diags, len(ws.Events), *format)
}

// report writes the findings as evctl lint does and returns the exit code.
func report(stdout, stderr io.Writer, ds diag.List, events int, format string) int {
	var errs, warns int
	for _, d := range ds {
		if d.Severity == diag.Error {
			errs++
		} else {
			warns++
		}
	}
	switch format {
	case "json":
		v := struct {
			Findings []diag.Diagnostic `json:"findings"`
			Summary  struct {
				Errors   int `json:"errors"`
				Warnings int `json:"warnings"`
			} `json:"summary"`
		}{Findings: append([]diag.Diagnostic{}, ds...)}
		v.Summary.Errors, v.Summary.Warnings = errs, warns
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	case "github":
		for _, d := range ds {
			level := "error"
			if d.Severity == diag.Warning {
				level = "warning"
			}
			msg := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(d.Message)
			fmt.Fprintf(stdout, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", level, d.File, max(d.Line, 1), max(d.Col, 1), d.Rule, msg)
		}
	default:
		for _, d := range ds {
			sev := "error"
			if d.Severity == diag.Warning {
				sev = "warning"
			}
			fmt.Fprintf(stdout, "%s: %s %s: %s\n", d.Pos, sev, d.Rule, d.Message)
		}
		if errs+warns == 0 {
			fmt.Fprintf(stderr, "%d events checked: no problems\n", events)
		} else {
			fmt.Fprintf(stderr, "%d events checked: %d error(s), %d warning(s)\n", events, errs, warns)
		}
	}
	if ds.HasErrors() {
		return 1
	}
	return 0
}
