#!/usr/bin/env bash
# Installs Debian's clickhouse-server and clickhouse-client (18.16 on bookworm) when absent. The
# clickhouse_table/clickhouse_view sink tests, the ClickHouse ingest writer's tests, its benchmark
# and `evctl dev` start the server themselves as a plain process from a copied config (never the
# system service), so only the binaries and the stock config under /etc/clickhouse-server are used.
set -euo pipefail
if command -v clickhouse-server >/dev/null 2>&1 && command -v clickhouse-client >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-clickhouse: installing clickhouse-server and clickhouse-client from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y clickhouse-server clickhouse-client ||
  { $SUDO apt-get update && $SUDO apt-get install -y clickhouse-server clickhouse-client; }
