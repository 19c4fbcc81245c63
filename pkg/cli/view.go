package cli

import (
	"encoding/json"
	"io"
)

// humanView is a command's typed result that renders itself for people. The same value is the
// command's -o json form (its fields, as tagged), so both views show one result.
type humanView interface {
	Human(w io.Writer, a *App)
}

// render writes v to stdout: as one compact JSON object for -o json, else its human view.
func (a *App) render(v humanView) error {
	if a.Globals.Output == "json" {
		return json.NewEncoder(a.IO.Out).Encode(v)
	}
	v.Human(a.IO.Out, a)
	return nil
}
