package cli

import (
	"io"
	"os"
)

// IOStreams is where a command reads and writes. Only this package knows about terminals: tests
// swap in buffers, and colour is on only for a terminal without NO_COLOR.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// InTTY and OutTTY report whether stdin/stdout are terminals.
	InTTY, OutTTY bool
	Color         bool
	// Getenv reads the environment (tests pass a map).
	Getenv func(string) string
	// WorkDir is where relative paths and the upward search for evctl.yaml start.
	WorkDir string
}

// System returns the process's streams.
func System() *IOStreams {
	wd, _ := os.Getwd()
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, Getenv: os.Getenv, WorkDir: wd}
	s.InTTY = isTerminal(os.Stdin)
	s.OutTTY = isTerminal(os.Stdout)
	s.Color = s.OutTTY && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	return s
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// paint wraps s in an ANSI colour when colour is on.
func (s *IOStreams) paint(code, text string) string {
	if !s.Color {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}
