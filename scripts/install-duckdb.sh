#!/usr/bin/env bash
# Installs DuckDB for Node (@duckdb/node-api): the independent Parquet reader the ingestion tests
# and `make demo` read Delta data files back with (evctl's own reader is not the judge of what it
# wrote). From npm, pinned, cached per machine, linked as .tools/duckdb. Takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="$PWD/.tools"
CACHE="${EVCTL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/evctl/tools}"
mkdir -p "$TOOLS" "$CACHE"
# DuckDB for Node (@duckdb/node-api): the independent Parquet reader the ingestion tests read Delta
# data files back with. From npm, pinned, cached per machine, linked as .tools/duckdb.
DUCKDB_NODE_VERSION="${DUCKDB_NODE_VERSION:-1.5.6-r.1}"
dir="$CACHE/duckdb-node@$DUCKDB_NODE_VERSION"
if [ ! -d "$dir/node_modules/@duckdb/node-api" ]; then
  command -v npm >/dev/null || { apt-get install -y nodejs npm || { apt-get update && apt-get install -y nodejs npm; }; }
  echo "install-tools: installing @duckdb/node-api $DUCKDB_NODE_VERSION (once per machine)" >&2
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  (cd "$dir.tmp" && echo '{"name":"evctl-duckdb","private":true}' >package.json && npm install --no-audit --no-fund "@duckdb/node-api@$DUCKDB_NODE_VERSION" >/dev/null)
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
ln -sfn "$dir" "$TOOLS/duckdb"
