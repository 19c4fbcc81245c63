#!/usr/bin/env bash
# Installs the pinned tools evctl's tests, demo and benchmarks need into .tools/bin, once per
# machine: each tool is built into a per-user cache keyed by its version
# (${XDG_CACHE_HOME:-~/.cache}/evctl/tools/<tool>@<version>) and linked into .tools/bin, so a
# fresh clone on the same machine (CI's) reuses it. Everything comes from the Go module proxy
# and Debian's packages; nothing else is installed system-wide.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF_VERSION="${BUF_VERSION:-v1.75.0}"
TOOLS="$PWD/.tools"
CACHE="${EVCTL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/evctl/tools}"
mkdir -p "$TOOLS/bin" "$CACHE"

dir="$CACHE/buf@$BUF_VERSION"
if [ ! -x "$dir/buf" ]; then
  echo "install-tools: building buf $BUF_VERSION (once per machine; about 3 minutes)" >&2
  mkdir -p "$dir.tmp"
  GOBIN="$dir.tmp" go install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
ln -sf "$dir/buf" "$TOOLS/bin/buf"

# actionlint checks the GitHub workflow `evctl init` writes (pkg/contracts/scaffold's tests); it
# runs shellcheck over the workflow's run: scripts, and the workflow's comment step needs jq and
# curl, so those come from Debian.
ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
dir="$CACHE/actionlint@$ACTIONLINT_VERSION"
if [ ! -x "$dir/actionlint" ]; then
  echo "install-tools: building actionlint $ACTIONLINT_VERSION (once per machine)" >&2
  mkdir -p "$dir.tmp"
  GOBIN="$dir.tmp" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
ln -sf "$dir/actionlint" "$TOOLS/bin/actionlint"
for pkg in shellcheck jq curl; do
  if ! command -v "$pkg" >/dev/null 2>&1; then
    echo "install-tools: installing Debian's $pkg" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get install -y "$pkg" || { $SUDO apt-get update && $SUDO apt-get install -y "$pkg"; }
  fi
done

# The BigQuery emulator the bigquery_table tests and `evctl dev` talk to (needs clang; builds
# once per machine, about 18 minutes).
EVCTL_TOOLS_CACHE="$CACHE" scripts/install-bigquery-emulator.sh

# Debian's clickhouse-server/-client (the ClickHouse sink, ingest writer and `evctl dev`).
scripts/install-clickhouse.sh

# Redis 7 for the counter store's tests and benchmarks (pkg/data/counterstore/redis): Debian's
# redis-server, started by the tests as a plain process on a loopback port. Installed only when
# missing; the system service it may enable is not used.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "install-tools: installing Debian's redis-server" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y redis-server || { $SUDO apt-get update && $SUDO apt-get install -y redis-server; }
fi
# DuckDB for Node, the independent Parquet reader of the ingestion tests (and of `make demo`).
EVCTL_TOOLS_CACHE="$CACHE" scripts/install-duckdb.sh
