package breaking

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// InstalledBufVersion runs `buf --version` at path and returns what it prints ("1.75.0"). It gives buf
// five seconds: a version query that hangs is a broken install, not a reason to hang.
func InstalledBufVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("breaking: %s --version: %w", path, err)
	}
	v := strings.TrimSpace(string(out))
	if v == "" {
		return "", fmt.Errorf("breaking: %s --version printed nothing", path)
	}
	return v, nil
}
