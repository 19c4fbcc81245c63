package cli_test

import (
	"strings"
	"testing"
)

func TestGatewayRefusesWithoutTokens(t *testing.T) {
	dir := sampleRepo(t, true)
	code, _, errOut := runCLI(t, dir, "gateway", "--env", "staging", "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "no producer tokens") || !strings.Contains(errOut, "EVCTL_GATEWAY_TOKENS") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestGatewayNeedsEnv(t *testing.T) {
	dir := sampleRepo(t, true)
	if code, _, errOut := runCLI(t, dir, "gateway"); code != 1 || !strings.Contains(errOut, `required flag(s) "env" not set`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
