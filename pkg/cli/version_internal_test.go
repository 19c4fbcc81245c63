package cli

import (
	"runtime/debug"
	"testing"
)

// TestFromBuildInfo: a release tag, a pseudo-version (go install …@main: no vcs settings) and a
// VCS-stamped build from a clone each report the version and commit they carry.
func TestFromBuildInfo(t *testing.T) {
	for name, c := range map[string]struct {
		bi              debug.BuildInfo
		version, commit string
		modified        bool
	}{
		"release": {bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.1.0"}}, version: "v0.1.0"},
		"pseudo": {bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.1.1-0.20261203114500-1f72459abcde"}},
			version: "v0.1.1-0.20261203114500-1f72459abcde", commit: "1f72459abcde"},
		"clone": {bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "1f72459abcdef0123456789abcdef0123456789a"}, {Key: "vcs.modified", Value: "true"}}},
			version: "(devel)", commit: "1f72459abcdef0123456789abcdef0123456789a", modified: true},
	} {
		v := versionView{Version: "(devel)"}
		fromBuildInfo(&v, &c.bi)
		if v.Version != c.version || v.Commit != c.commit || v.Modified != c.modified || v.GoVersion != "go1.26.8" {
			t.Errorf("%s: %+v", name, v)
		}
	}
}
