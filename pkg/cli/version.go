package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"golang.org/x/mod/module"

	"github.com/evctl/evctl/pkg/contracts/breaking"
)

// versionView is what `evctl version` and `evctl --version` report.
type versionView struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	// Modified reports a build from a work tree with uncommitted changes.
	Modified  bool    `json:"modified,omitempty"`
	GoVersion string  `json:"go_version"`
	Buf       bufView `json:"buf"`
}

type bufView struct {
	// Pinned is the buf release evctl is tested with (scripts/install-tools.sh installs it).
	Pinned  string `json:"pinned"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
	// Error says why buf was not found or did not answer (breaking checks then fail closed).
	Error string `json:"error,omitempty"`
}

// Human implements humanView.
func (v versionView) Human(w io.Writer, _ *App) {
	commit := v.Commit
	if commit == "" {
		commit = "unknown"
	} else if v.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(w, "evctl %s\ncommit  %s\ngo      %s\n", v.Version, commit, v.GoVersion)
	if v.Buf.Error != "" {
		fmt.Fprintf(w, "buf     not available: %s\n", v.Buf.Error)
		return
	}
	fmt.Fprintf(w, "buf     %s (%s; evctl pins %s)\n", v.Buf.Version, v.Buf.Path, v.Buf.Pinned)
}

func newVersionCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use: "version",
		Example: `  evctl version
  evctl version -o json
  evctl --version`,
		Short: "Print evctl's version, commit, Go version and the buf it uses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return app.version(cmd)
		},
	}
}

// addVersionFlag gives the root command --version, which prints what `evctl version` does
// (and honours -o json); without it the root command prints its help, as before.
func addVersionFlag(root *cobra.Command, app *App) {
	var show bool
	root.Flags().BoolVar(&show, "version", false, "print the version (as `evctl version`)")
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if !show {
			return cmd.Help()
		}
		return app.version(cmd)
	}
}

func (a *App) version(cmd *cobra.Command) error {
	v := versionView{Version: "(devel)", GoVersion: runtime.Version(), Buf: bufView{Pinned: breaking.BufVersion}}
	if bi, ok := debug.ReadBuildInfo(); ok {
		fromBuildInfo(&v, bi)
	}
	path, err := breaking.FindBuf(a.IO.Getenv)
	if err == nil {
		v.Buf.Path = path
		v.Buf.Version, err = breaking.InstalledBufVersion(cmd.Context(), path)
	}
	if err != nil {
		v.Buf.Error = err.Error()
	}
	return a.render(v)
}

// fromBuildInfo fills v's version, commit and Go version from the binary's build info.
func fromBuildInfo(v *versionView, bi *debug.BuildInfo) {
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	// `go install …@<branch or commit>` builds a pseudo-version and stamps no vcs settings: its
	// last 12 hex digits are the commit. A vcs.revision below wins when present.
	if module.IsPseudoVersion(v.Version) {
		v.Commit, _ = module.PseudoVersionRev(v.Version)
	}
	v.GoVersion = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
}
