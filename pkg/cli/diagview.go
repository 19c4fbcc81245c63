package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/diag"
)

// findingsJSON is the stable JSON shape of findings (lint, and any command that fails on them).
type findingsJSON struct {
	Findings []diag.Diagnostic `json:"findings"`
	Summary  struct {
		Errors   int `json:"errors"`
		Warnings int `json:"warnings"`
	} `json:"summary"`
}

func countDiags(ds diag.List) (errs, warns int) {
	for _, d := range ds {
		if d.Severity == diag.Error {
			errs++
		} else {
			warns++
		}
	}
	return
}

// renderDiags writes findings in format text, json or github.
func (a *App) renderDiags(w io.Writer, ds diag.List, format string) error {
	errs, warns := countDiags(ds)
	switch format {
	case "json":
		v := findingsJSON{Findings: ds}
		if v.Findings == nil {
			v.Findings = []diag.Diagnostic{}
		}
		v.Summary.Errors, v.Summary.Warnings = errs, warns
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "github":
		for _, d := range ds {
			level := "error"
			if d.Severity == diag.Warning {
				level = "warning"
			}
			fmt.Fprintf(w, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", level, d.File, max(d.Line, 1), max(d.Col, 1), d.Rule, ghEscape(d.Message))
		}
		return nil
	case "text", "":
		for _, d := range ds {
			sev := a.IO.paint("31", "error")
			if d.Severity == diag.Warning {
				sev = a.IO.paint("33", "warning")
			}
			fmt.Fprintf(w, "%s: %s %s: %s\n", d.Pos, sev, d.Rule, d.Message)
		}
		return nil
	}
	return fmt.Errorf("unknown format %q (text, json or github)", format)
}

// ghEscape escapes a message for a GitHub workflow command.
func ghEscape(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// failOnDiags prints findings to stderr and returns a silent exit-1 error if any is an error.
func (a *App) failOnDiags(ds diag.List) error {
	if !ds.HasErrors() {
		return nil
	}
	var only diag.List
	for _, d := range ds {
		if d.Severity == diag.Error {
			only = append(only, d)
		}
	}
	_ = a.renderDiags(a.IO.ErrOut, only, "text")
	errs, _ := countDiags(only)
	fmt.Fprintf(a.IO.ErrOut, "evctl: %d error(s); run `evctl lint` for details\n", errs)
	return silent(ExitFailure)
}
