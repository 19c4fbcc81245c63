package breaking

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/config"
)

// BufVersion is the buf release evctl runs (scripts/install-tools.sh installs the same).
const BufVersion = "v1.75.0"

// InstallCommand installs the pinned buf.
const InstallCommand = "go install github.com/bufbuild/buf/cmd/buf@" + BufVersion

// DefaultUse is the breaking category when evctl.yaml has no breaking.use: producers send JSON
// through the gateway, so both the wire and the JSON form must stay compatible.
var DefaultUse = []string{"WIRE_JSON"}

// ErrBufMissing is returned by FindBuf when buf is neither at EVCTL_BUF nor on PATH.
var ErrBufMissing = errors.New("breaking: buf is not installed; install it with `" + InstallCommand + "` or set EVCTL_BUF to its path")

// FindBuf returns the buf binary: EVCTL_BUF when set, else buf on PATH. getenv nil means
// os.Getenv. A path in EVCTL_BUF that does not exist is ErrBufMissing too (fail closed).
func FindBuf(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv("EVCTL_BUF"); p != "" {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		return "", fmt.Errorf("%w (EVCTL_BUF=%s does not exist)", ErrBufMissing, p)
	}
	p, err := exec.LookPath("buf")
	if err != nil {
		return "", ErrBufMissing
	}
	return p, nil
}

// bufFinding is one line of `buf breaking --error-format json`.
type bufFinding struct {
	Path        string `json:"path"`
	StartLine   int    `json:"start_line"`
	StartColumn int    `json:"start_column"`
	Type        string `json:"type"`
	Message     string `json:"message"`
}

func (a bufFinding) less(b bufFinding) bool {
	if a.Path != b.Path {
		return a.Path < b.Path
	}
	if a.StartLine != b.StartLine {
		return a.StartLine < b.StartLine
	}
	if a.StartColumn != b.StartColumn {
		return a.StartColumn < b.StartColumn
	}
	return a.Type < b.Type
}

// bufConfig is the inline buf.yaml (v2) with evctl.yaml's breaking block.
func bufConfig(b config.Breaking) (string, error) {
	type breaking struct {
		Use    []string `json:"use"`
		Except []string `json:"except,omitempty"`
	}
	use := b.Use
	if len(use) == 0 {
		use = DefaultUse
	}
	v := struct {
		Version  string   `json:"version"`
		Breaking breaking `json:"breaking"`
	}{"v2", breaking{Use: use, Except: b.Except}}
	out, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("breaking: buf config: %w", err)
	}
	return string(out), nil
}

// runBuf runs `buf breaking` on two images written to dir. buf exits 100 when it finds
// something; any other failure is an error carrying buf's own message.
func runBuf(ctx context.Context, bin, dir string, cur, base []byte, b config.Breaking) ([]bufFinding, error) {
	curPath, basePath := filepath.Join(dir, "current.binpb"), filepath.Join(dir, "baseline.binpb")
	if err := os.WriteFile(curPath, cur, 0o600); err != nil {
		return nil, fmt.Errorf("breaking: %w", err)
	}
	if err := os.WriteFile(basePath, base, 0o600); err != nil {
		return nil, fmt.Errorf("breaking: %w", err)
	}
	cfg, err := bufConfig(b)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "breaking", curPath, "--against", basePath, "--error-format", "json", "--config", cfg)
	cmd.Dir = dir // no buf.yaml or buf.work.yaml of the user's applies
	cmd.Env = append(os.Environ(), "BUF_CACHE_DIR="+filepath.Join(dir, "cache"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil, nil
	case errors.As(err, &ee) && ee.ExitCode() == 100:
	default:
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("buf breaking: %s", msg)
	}
	var out []bufFinding
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var f bufFinding
		if err := json.Unmarshal(line, &f); err != nil {
			return nil, fmt.Errorf("buf breaking: unreadable output %q: %w", line, err)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("buf breaking: exit 100 without findings: %s", strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
