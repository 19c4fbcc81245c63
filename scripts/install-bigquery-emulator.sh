#!/usr/bin/env bash
# Installs goccy/bigquery-emulator into .tools/bin, once per machine (built into the per-user tool
# cache, see install-tools.sh, and linked). It is what the BigQuery sink's integration tests and
# `evctl dev` talk to (BIGQUERY_EMULATOR_HOST).
#
# The emulator links go-zetasql through cgo, which builds only with clang (g++ 12 fails on it),
# so Debian's clang is installed when missing. The build takes about 18 minutes of CPU, so it
# runs niced to leave room for whatever else the machine is doing.
set -euo pipefail
cd "$(dirname "$0")/.."
BQ_EMULATOR_VERSION="${BQ_EMULATOR_VERSION:-v0.6.6}"
TOOLS="$PWD/.tools"
CACHE="${EVCTL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/evctl/tools}"
DIR="$CACHE/bigquery-emulator@$BQ_EMULATOR_VERSION"
mkdir -p "$TOOLS/bin" "$CACHE"

if [ -x "$DIR/bigquery-emulator" ]; then
  ln -sf "$DIR/bigquery-emulator" "$TOOLS/bin/bigquery-emulator"
  exit 0
fi

if ! command -v clang >/dev/null 2>&1 || ! command -v clang++ >/dev/null 2>&1; then
  echo "install-bigquery-emulator: installing clang (go-zetasql does not build with g++)" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get install -y clang || { $SUDO apt-get update && $SUDO apt-get install -y clang; }
fi

echo "install-bigquery-emulator: building bigquery-emulator $BQ_EMULATOR_VERSION (once; about 18 minutes)" >&2
# Built inside a throwaway module rather than with `go install pkg@version`: the module proxy
# answers 403 to this module's version list, which `go install pkg@version` reads to look for a
# deprecation notice and fails on. The throwaway module requires only the emulator, so the
# dependency versions are the emulator's own, as `go install` would pick them.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK" "$DIR.tmp"' EXIT
mkdir -p "$DIR.tmp"
(
  cd "$WORK"
  go mod init evctl.local/bigquery-emulator >/dev/null 2>&1
  go mod edit -require="github.com/goccy/bigquery-emulator@$BQ_EMULATOR_VERSION"
  CGO_ENABLED=1 CC=clang CXX=clang++ GOFLAGS=-mod=mod \
    nice -n 10 go build -trimpath -o "$DIR.tmp/bigquery-emulator" github.com/goccy/bigquery-emulator/cmd/bigquery-emulator
)
rm -rf "$DIR" && mv "$DIR.tmp" "$DIR"
ln -sf "$DIR/bigquery-emulator" "$TOOLS/bin/bigquery-emulator"
echo "install-bigquery-emulator: installed $DIR/bigquery-emulator" >&2
