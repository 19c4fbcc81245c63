#!/usr/bin/env bash
# Regenerates pkg/data/gateway/ingestv1 from proto/evctl/ingest/v1/ingest.proto with buf, using the
# protoc-gen-go and protoc-gen-connect-go versions pinned in go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF="${EVCTL_BUF:-$PWD/.tools/bin/buf}"
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
GOBIN="$bin" go install google.golang.org/protobuf/cmd/protoc-gen-go connectrpc.com/connect/cmd/protoc-gen-connect-go
cat >"$bin/buf.gen.yaml" <<YAML
version: v2
plugins:
  - local: $bin/protoc-gen-go
    out: .
    opt: [module=github.com/evctl/evctl]
  - local: $bin/protoc-gen-connect-go
    out: .
    opt: [module=github.com/evctl/evctl]
YAML
"$BUF" generate proto --template "$bin/buf.gen.yaml"
gofmt -l pkg/data/gateway/ingestv1
