#!/usr/bin/env bash
# Installs the pinned tools evctl's tests, demo and benchmarks need into .tools/bin, once.
# Everything comes from the Go module proxy; nothing is installed system-wide.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF_VERSION="${BUF_VERSION:-v1.75.0}"
TOOLS="$PWD/.tools"
mkdir -p "$TOOLS/bin"

if [ ! -x "$TOOLS/bin/buf" ] || [ "$(cat "$TOOLS/buf.version" 2>/dev/null)" != "$BUF_VERSION" ]; then
  echo "install-tools: building buf $BUF_VERSION (once; about 3 minutes)" >&2
  GOBIN="$TOOLS/bin" go install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
  echo "$BUF_VERSION" > "$TOOLS/buf.version"
fi
